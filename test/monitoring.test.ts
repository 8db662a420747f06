// The operator's files against the code: deploy/prometheus/alerts.yml (every alert the README
// describes), deploy/grafana/otp-service.json (the dashboard), and docker-compose.yml's
// `monitoring` profile that runs both. No Docker engine runs here, so the compose file and the
// provisioning files are parsed and held to each other; the metrics are read from a real API
// and a real worker process. `promtool check rules` runs in .ci/run.
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiEnv } from '../apps/api/src/config.js';
import { WorkerEnv } from '../apps/worker/src/config.js';
import { killEntryProcesses, startEntry } from './entry-process.js';
import { freePort } from './probes.js';
import { connectTestRedis, deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (
  parse(read('deploy/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] }
).groups.flatMap((group) => group.rules);

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(read('deploy/grafana/otp-service.json')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
};
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');

/** The project's own metric names a PromQL expression reads (Prometheus's `up` and the like aside). */
function projectMetrics(expr: string): string[] {
  const bare = expr.replace(/\{[^}]*\}/g, '').replace(/"[^"]*"/g, '');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((name) => /^(otp|http|process|nodejs)_/.test(name));
}

/** Every series name a /metrics page can have: each family, and a histogram's _bucket/_sum/_count. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name = '', type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('deploy/prometheus/alerts.yml', () => {
  const readmeAlerts = (() => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('### Alerts, and what each one means'));
    const table = section.slice(0, section.indexOf('\n### '));
    return [...table.matchAll(/^\| \*\*[^*]+\*\* \(`(Otp\w+)`\)/gm)].map((m) => m[1]);
  })();

  it('has a rule for every alert the README describes, and the README describes every rule', () => {
    expect(readmeAlerts.length).toBeGreaterThanOrEqual(10);
    expect(rules.map((rule) => rule.alert).sort()).toEqual([...readmeAlerts].sort());
  });

  it('gives every rule a severity, a summary and a description', () => {
    for (const rule of rules) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });

  it('alerts on the workers and the API by the job names prometheus.yml scrapes them under', () => {
    const jobs = (
      parse(read('deploy/prometheus/prometheus.yml')) as { scrape_configs: { job_name: string }[] }
    ).scrape_configs.map((c) => c.job_name);
    for (const rule of rules) {
      for (const [, job] of rule.expr.matchAll(/job="([^"]+)"/g)) expect(jobs, rule.alert).toContain(job);
    }
  });
});

describe('deploy/grafana/otp-service.json', () => {
  it('is an importable dashboard: uid, title, a Prometheus datasource variable every query uses', () => {
    expect(dashboard.uid).toBe('otp-service');
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    // Grafana's variable syntax, not a template literal.
    const variable = ['$', '{datasource}'].join('');
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: variable });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it.each([
    ['traffic', /otp_sends_total/],
    ['conversion by country', /sum by \(country\) \(rate\(otp_verifications_total\{result="verified"\}/],
    ['delivery results', /sum by \(result\) \(rate\(otp_sms_deliveries_total/],
    ['delivery errors by code', /sum by \(code\) \(rate\(otp_sms_delivery_errors_total/],
    [
      'delivery latency',
      /histogram_quantile\(0\.95, sum by \(le\) \(rate\(otp_sms_delivery_latency_seconds_bucket/,
    ],
    ['queue depth', /max by \(state\) \(otp_queue_jobs\)/],
    ['API latency', /http_request_duration_seconds_bucket/],
    ['API errors', /otp_api_errors_total/],
    ['memory', /process_resident_memory_bytes/],
    ['CPU', /process_cpu_seconds_total/],
    ['event loop', /nodejs_eventloop_lag/],
  ])('has a panel for %s', (_what, query) => {
    expect(panels.some((panel) => panel.targets?.some((t) => query.test(t.expr)))).toBe(true);
  });
});

describe('every project metric the rules and the dashboard query exists in /metrics', () => {
  const used: string[] = [];
  afterAll(async () => {
    killEntryProcesses();
    const redis = connectTestRedis();
    await deleteKeys(redis, ...used);
    await redis.quit();
  });

  it('API and worker processes expose them all', async () => {
    const prefix = uniquePrefix('mon');
    const queue = prefix.replaceAll(':', '-').replace(/-$/, '');
    used.push(prefix, `bull:${queue}:`);
    const env = {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      QUEUE_NAME: queue,
      NODE_ENV: 'development',
      OTP_DEBUG: 'true',
    };
    const metricsPort = await freePort();
    const api = startEntry('apps/api/src/server.ts', { ...env, HOST: '127.0.0.1', PORT: '0' });
    const worker = startEntry('apps/worker/src/main.ts', {
      ...env,
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
    });
    await api.waitFor('otp-api ready', 45_000);
    await worker.waitFor('metrics and health checks listening', 45_000);
    const ready = api
      .output()
      .split('\n')
      .find((line) => line.includes('otp-api ready'));
    const apiUrl = (JSON.parse(ready ?? '{}') as { url: string }).url;
    const exposed = new Set([
      ...exposedNames(await (await fetch(`${apiUrl}/metrics`)).text()),
      ...exposedNames(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()),
    ]);

    const queried = [
      ...rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
      ...panels.flatMap((panel) =>
        (panel.targets ?? []).map((t) => ({ where: `panel ${panel.title}`, expr: t.expr })),
      ),
    ];
    const missing = queried.flatMap(({ where, expr }) =>
      projectMetrics(expr)
        .filter((name) => !exposed.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
    // The check sees the metrics at all (a broken parser would pass everything above).
    expect(queried.flatMap(({ expr }) => projectMetrics(expr)).length).toBeGreaterThan(20);

    api.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await api.exit()).toBe(0);
    expect(await worker.exit()).toBe(0);
  }, 90_000);
});

describe('docker-compose.yml: the monitoring profile', () => {
  interface Service {
    image?: string;
    profiles?: string[];
    volumes?: string[];
    ports?: string[];
    environment?: Record<string, string>;
    expose?: string[];
  }
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const services = compose.services;
  /** "./deploy/x.yml:/etc/x.yml:ro" → container path → host path, for host files. */
  const mounts = (service: Service) =>
    new Map(
      (service.volumes ?? [])
        .filter((volume) => volume.startsWith('./'))
        .map((volume) => {
          const [host = '', container = ''] = volume.split(':');
          return [container, host.replace(/^\.\//, '')] as const;
        }),
    );

  it('adds Prometheus and Grafana, only under the monitoring profile, from pinned images', () => {
    const monitored = Object.entries(services).filter(([, s]) => s.profiles?.includes('monitoring'));
    expect(monitored.map(([name]) => name).sort()).toEqual(['grafana', 'prometheus']);
    expect(services.prometheus?.profiles).toEqual(['monitoring']);
    expect(services.grafana?.profiles).toEqual(['monitoring']);
    expect(services.prometheus?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    for (const name of ['redis', 'api', 'worker']) expect(services[name]?.profiles).toBeUndefined();
  });

  it('gives Prometheus its config and the alert rules, which point at the apps as compose runs them', () => {
    const files = mounts(services.prometheus ?? {});
    const configPath = files.get('/etc/prometheus/prometheus.yml');
    expect(configPath).toBe('deploy/prometheus/prometheus.yml');
    const config = parse(read(configPath ?? '')) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    // Relative rule files resolve next to the config file, where alerts.yml is mounted.
    for (const ruleFile of config.rule_files) {
      const inContainer = posix.resolve('/etc/prometheus', ruleFile);
      expect(files.get(inContainer), ruleFile).toBe('deploy/prometheus/alerts.yml');
    }
    for (const host of files.values()) expect(existsSync(join(root, host)), host).toBe(true);

    const job = (name: string) => config.scrape_configs.find((c) => c.job_name === name);
    const apiPort = (ApiEnv.properties.PORT as unknown as { default: number }).default;
    expect(services.api?.environment?.PORT).toBe(apiPort);
    expect(job('otp-api')?.static_configs?.[0]?.targets).toEqual([`api:${apiPort}`]);
    const metricsPort = (WorkerEnv.properties.METRICS_PORT as unknown as { default: number }).default;
    expect(services.worker?.environment?.METRICS_PORT).toBe(metricsPort);
    expect(job('otp-worker')?.dns_sd_configs?.[0]).toMatchObject({ names: ['worker'], port: metricsPort });
  });

  it('provisions Grafana with the Prometheus datasource and the dashboard', () => {
    const files = mounts(services.grafana ?? {});
    const datasources = files.get('/etc/grafana/provisioning/datasources');
    const providers = files.get('/etc/grafana/provisioning/dashboards');
    expect(datasources).toBe('deploy/grafana/provisioning/datasources');
    expect(providers).toBe('deploy/grafana/provisioning/dashboards');

    const datasource = parse(read(`${datasources}/prometheus.yml`)) as {
      datasources: { type: string; url: string; isDefault: boolean }[];
    };
    expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', isDefault: true });
    const promPort = (services.prometheus?.ports?.[0] ?? '').split(':').at(-1);
    expect(datasource.datasources[0]?.url).toBe(`http://prometheus:${promPort}`);

    const provider = parse(read(`${providers}/otp-service.yml`)) as {
      providers: { type: string; options: { path: string } }[];
    };
    const dashboardsDir = provider.providers[0]?.options.path ?? '';
    expect(files.get(posix.join(dashboardsDir, 'otp-service.json'))).toBe('deploy/grafana/otp-service.json');
    expect(compose.volumes).toHaveProperty('grafana-data');
    expect(compose.volumes).toHaveProperty('prometheus-data');
  });

  it('README names the Docker Compose version the file needs, as the file does', () => {
    const needed = /Needs Docker Compose (\d+\.\d+) or newer/.exec(read('docker-compose.yml'))?.[1];
    expect(needed).toBeTruthy();
    expect(read('README.md')).toContain(`Docker Compose ${needed} or newer`);
  });
});
