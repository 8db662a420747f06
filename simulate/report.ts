import type { SimulationReport } from './pumping.ts';

/** Issue 13's goals: per attacked range, and for legitimate traffic. */
export const GOALS = { minBlockedShare: 0.95, maxLeakedPerRange: 300, maxFalsePositiveShare: 0.001 };

export interface GoalCheck {
  attacksBlockedShare: number;
  maxLeaked: number;
  falsePositiveShare: number;
  met: boolean;
}

/**
 * Legitimate sends refused, as a share of a full day's (2,000 ranges). With fewer ranges
 * simulated, refusals outside the attacked ranges scale with the traffic, but those inside
 * them (the collateral of a block) do not: there are as many attacked ranges either way.
 */
export function fullScaleFalsePositives(report: SimulationReport): number {
  if (report.legit.requests === 0) return 0;
  const scale = 2000 / report.ranges;
  const collateral = report.legit.blockedInAttacked;
  const elsewhere = report.legit.blocked - collateral;
  return (collateral + elsewhere * scale) / (report.legit.requests * scale);
}

/** The goals as measured in an enforce run. */
export function checkGoals(report: SimulationReport): GoalCheck {
  const requests = report.attacks.reduce((sum, a) => sum + a.requests, 0);
  const blocked = report.attacks.reduce((sum, a) => sum + a.blocked, 0);
  const attacksBlockedShare = requests === 0 ? 0 : blocked / requests;
  const maxLeaked = Math.max(0, ...report.attacks.map((a) => a.leaked));
  const falsePositiveShare = fullScaleFalsePositives(report);
  return {
    attacksBlockedShare,
    maxLeaked,
    falsePositiveShare,
    met:
      attacksBlockedShare >= GOALS.minBlockedShare &&
      maxLeaked < GOALS.maxLeakedPerRange &&
      falsePositiveShare < GOALS.maxFalsePositiveShare,
  };
}

const pct = (share: number, digits = 1) => `${(share * 100).toFixed(digits)}%`;
const pad = (cells: string[], widths: number[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [
    pad(header, widths),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => pad(r, widths)),
  ].join('\n');
}

/** The printed (and README) table: per attack, then legitimate traffic, in both modes. */
export function formatReport(enforce: SimulationReport, recordOnly?: SimulationReport): string {
  const goals = checkGoals(enforce);
  const attackRows = enforce.attacks.map((a, i) => {
    const shadow = recordOnly?.attacks[i];
    return [
      a.range,
      `${String(Math.floor(a.startMinute / 60)).padStart(2, '0')}:${String(a.startMinute % 60).padStart(2, '0')}`,
      String(a.requests),
      String(a.leaked),
      pct(a.requests === 0 ? 0 : a.blocked / a.requests),
      a.minutesToBlock === undefined ? 'never' : `${a.minutesToBlock} min`,
      shadow ? `${shadow.leaked} sent, ${shadow.wouldBlock} would-be blocked` : '',
    ];
  });
  const legit = enforce.legit;
  const lines = [
    `Simulated ${enforce.hours} h: ${enforce.ranges} normal ranges at 5 sends/s per 2,000 ranges (daily rhythm 0.3x-1.7x),`,
    `${enforce.attacks.length} pumping attacks (0.2 -> 5 sends/s over 10 min, then 5/s for an hour; 1,000 addresses; no verifies).`,
    enforce.ranges < 2000
      ? `Background compressed: ${enforce.ranges} of 2,000 ranges simulated, each at the full per-range rate; the false-positive share is scaled to 2,000 ranges (refusals in attacked ranges are as many at any scale; raw share ${pct(enforce.legit.requests === 0 ? 0 : enforce.legit.blocked / enforce.legit.requests, 3)}).`
      : 'Background: all 2,000 ranges.',
    '',
    table(
      ['attacked range', 'start', 'attack sends', 'SMS leaked', 'blocked', 'time to block', 'record_only'],
      attackRows,
    ),
    '',
    table(
      ['legitimate traffic', 'enforce', 'record_only'],
      [
        ['send requests', String(legit.requests), String(recordOnly?.legit.requests ?? '')],
        ['codes sent', String(legit.sent), String(recordOnly?.legit.sent ?? '')],
        ['codes verified', String(legit.verified), String(recordOnly?.legit.verified ?? '')],
        [
          'refused by the guard (false positives; in attacked ranges)',
          `${legit.blocked}; ${legit.blockedInAttacked} (${pct(goals.falsePositiveShare, 3)} at full scale)`,
          `${recordOnly?.legit.blocked ?? ''} (would-be: ${recordOnly?.legit.wouldBlock ?? ''})`,
        ],
        ['refused by other limits', String(legit.refusedOther), String(recordOnly?.legit.refusedOther ?? '')],
        [
          'block decisions (attacked ranges / others)',
          `${enforce.blocks.filter((b) => b.attacked).length} / ${enforce.blocks.filter((b) => !b.attacked).length}`,
          recordOnly
            ? `${recordOnly.blocks.filter((b) => b.attacked).length} / ${recordOnly.blocks.filter((b) => !b.attacked).length}`
            : '',
        ],
      ],
    ),
    '',
    `Goals (enforce): attack sends blocked ${pct(goals.attacksBlockedShare)} (>= 95%), most SMS leaked to one range ${goals.maxLeaked} (< 300), false positives ${pct(goals.falsePositiveShare, 3)} (< 0.1%): ${goals.met ? 'met' : 'NOT met'}.`,
    `Run time: enforce ${enforce.elapsedSeconds.toFixed(0)} s${recordOnly ? `, record_only ${recordOnly.elapsedSeconds.toFixed(0)} s` : ''}.`,
  ];
  return lines.join('\n');
}
