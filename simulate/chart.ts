import type { SimulationReport } from './pumping.ts';

const WIDTH = 860;
const HEIGHT = 320;
const MARGIN = { left: 56, right: 16, top: 36, bottom: 40 };

const escapeText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * Sends per minute around the first attack: requests to the attacked range, the SMS it
 * actually got, and a mean normal range (×100, to be visible), with the blocks marked.
 * Plain SVG, no dependency.
 */
export function renderChart(report: SimulationReport): string {
  const attack = report.attacks[0];
  const from = Math.max(0, (attack?.startMinute ?? 0) - 30);
  const to = Math.min(report.series.attackRequests.length, (attack?.startMinute ?? 0) + 100);
  const slice = (values: number[]) => values.slice(from, to);
  const requests = slice(report.series.attackRequests);
  const sent = slice(report.series.attackSent);
  const normalRanges = Math.max(1, report.ranges - report.attacks.length);
  // A normal range gets ~0.2 SMS a minute: scaled by 100 so its line shows.
  const normal = slice(report.series.normalSent).map((v) => (100 * v) / normalRanges);
  const max = Math.max(1, ...requests);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i: number) => MARGIN.left + (i / Math.max(1, requests.length - 1)) * plotW;
  const y = (v: number) => MARGIN.top + plotH - (v / max) * plotH;
  const path = (values: number[]) =>
    values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const blocks = report.blocks
    .filter((b) => b.range === attack?.range && b.minute < to && b.minute + b.minutes > from)
    .map((b) => {
      const x0 = x(Math.max(0, b.minute - from));
      const x1 = x(Math.min(requests.length - 1, b.minute + b.minutes - from));
      return `<rect x="${x0.toFixed(1)}" y="${MARGIN.top}" width="${(x1 - x0).toFixed(1)}" height="${plotH}" fill="#d62728" fill-opacity="0.08"/><text x="${(x0 + 4).toFixed(1)}" y="${MARGIN.top + 14}" font-size="11" fill="#d62728">block ${b.level}: ${b.minutes} min</text>`;
    })
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const v = Math.round(max * f);
      return `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${MARGIN.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${v}</text>`;
    })
    .join('');
  const xTicks = Array.from({ length: Math.floor(requests.length / 15) + 1 }, (_, k) => k * 15)
    .map((i) => {
      const minute = from + i;
      const label = `${String(Math.floor(minute / 60) % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
      return `<text x="${x(i).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" font-size="11" text-anchor="middle">${label}</text>`;
    })
    .join('');
  const legend = [
    ['#999', 'attack requests to the range'],
    ['#d62728', 'SMS the attacked range got'],
    ['#1f77b4', 'SMS to a normal range (mean, ×100)'],
  ]
    .map(
      ([color, label], i) =>
        `<rect x="${MARGIN.left + i * 230}" y="10" width="12" height="12" fill="${color}"/><text x="${MARGIN.left + i * 230 + 18}" y="20" font-size="12">${escapeText(label as string)}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" role="img">
<title>Sends per minute to a range under SMS pumping, with the fraud guard's blocks, and to a normal range</title>
<rect width="100%" height="100%" fill="#fff"/>
${ticks}${blocks}
<path d="${path(requests)}" fill="none" stroke="#999" stroke-width="1.5"/>
<path d="${path(sent)}" fill="none" stroke="#d62728" stroke-width="2"/>
<path d="${path(normal)}" fill="none" stroke="#1f77b4" stroke-width="2"/>
${xTicks}
<text x="14" y="${MARGIN.top + plotH / 2}" font-size="12" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})" text-anchor="middle">sends per minute</text>
${legend}
</svg>
`;
}
