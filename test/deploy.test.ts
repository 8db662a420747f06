// The deployment files against the code: no Docker engine runs here, so this reads
// docker-compose.yml, the Dockerfile and .env.example as text and checks that they name
// what the apps really have (build targets, entry files, ports, variables, pnpm version).
import { existsSync, globSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiEnv } from '../apps/api/src/config.js';
import { WorkerEnv } from '../apps/worker/src/config.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

// --- Dockerfile -------------------------------------------------------------------

interface Stage {
  name: string;
  from: string;
  instructions: Array<{ keyword: string; args: string }>;
}

/** Stages with their instructions; line continuations joined, comments dropped. */
function parseDockerfile(text: string): Map<string, Stage> {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages = new Map<string, Stage>();
  let current: Stage | undefined;
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      current = { name, from, instructions: [] };
      stages.set(name, current);
    } else {
      current?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const dockerfile = read('Dockerfile');
const stages = parseDockerfile(dockerfile);
const instruction = (stage: string, keyword: string) =>
  stages
    .get(stage)
    ?.instructions.filter((i) => i.keyword === keyword)
    .map((i) => i.args) ?? [];

/** `pnpm deploy … --filter @otp/api --prod /out/api` → /out/api → @otp/api. */
const deployed = new Map(
  [...dockerfile.matchAll(/pnpm deploy --legacy --filter (\S+) --prod (\/out\/\S+)/g)].map((m) => [
    m[2],
    m[1],
  ]),
);

/**
 * Workspace package name → its folder: the folders pnpm-workspace.yaml's globs match that
 * hold a package.json, as pnpm itself reads them (a stray folder, e.g. one `pnpm deploy` left
 * under apps/, is not a package).
 */
function workspacePackages(at = root): Map<string, string> {
  const readAt = (path: string) => readFileSync(join(at, path), 'utf8');
  const globs = (parse(readAt('pnpm-workspace.yaml')) as { packages?: string[] }).packages ?? [];
  const excluded = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1).replace(/\/$/, ''));
  const dirs = globs
    .filter((g) => !g.startsWith('!'))
    .flatMap((g) =>
      globSync(`${g.replace(/\/$/, '')}/package.json`, { cwd: at, exclude: ['**/node_modules/**'] }),
    )
    .map((manifest) => dirname(manifest).split(sep).join('/'))
    .filter((dir) => !excluded.some((pattern) => matchesGlob(dir, pattern)));
  return new Map(
    dirs.map((dir) => [(JSON.parse(readAt(`${dir}/package.json`)) as { name: string }).name, dir] as const),
  );
}
const packageDirs = workspacePackages();

/** What a final image target runs: its package folder and CMD entry. */
function target(name: string) {
  const copy = instruction(name, 'COPY').find((args) => args.includes('--from=build'));
  const out = /(\/out\/\S+)\s+\/app/.exec(copy ?? '')?.[1] ?? '';
  const pkg = deployed.get(out) ?? '';
  const cmd = JSON.parse(instruction(name, 'CMD')[0] ?? '[]') as string[];
  return { pkg, dir: packageDirs.get(pkg) ?? '', cmd };
}

// --- docker-compose.yml -----------------------------------------------------------------

interface Service {
  build?: { context: string; target: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  expose?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const built = Object.entries(services).filter(([, service]) => service.build);

// What each built service's environment may name: the TypeBox schemas the apps validate
// with, and for the fake the FAKE_MESSAGGIO_* variables its entry reads.
const fakeEntry = read('packages/messaggio/src/bin/fake-messaggio.ts');
const KNOWN_ENV: Record<string, Set<string>> = {
  api: new Set(Object.keys(ApiEnv.properties)),
  worker: new Set(Object.keys(WorkerEnv.properties)),
  'fake-messaggio': new Set(fakeEntry.match(/FAKE_MESSAGGIO_[A-Z_]+/g) ?? []),
};
const defaultOf = (schema: { properties: Record<string, unknown> }, name: string) =>
  (schema.properties[name] as { default?: unknown } | undefined)?.default;

/** "${API_PORT:-3000}:3000" → 3000: the port inside the container. */
const containerPort = (mapping: string) => Number(mapping.split(':').at(-1));

describe('docker-compose.yml and the Dockerfile', () => {
  it('builds every service from a target the Dockerfile has', () => {
    expect(built.map(([name]) => name).sort()).toEqual(['api', 'fake-messaggio', 'worker']);
    for (const [name, service] of built) {
      expect(stages.has(service.build?.target ?? ''), `${name}: target ${service.build?.target}`).toBe(true);
      expect(service.build?.context).toBe('.');
    }
  });

  it.each([
    ['api', '@otp/api', 'start:api'],
    ['worker', '@otp/worker', 'start:worker'],
    ['fake-messaggio', '@otp/messaggio', 'fake-messaggio'],
  ])('runs the %s entry file the app really has', (name, pkg, script) => {
    const { pkg: deployedPkg, dir, cmd } = target(name);
    expect(deployedPkg).toBe(pkg);
    expect(cmd[0]).toBe('node');
    const entry = cmd[1] ?? '';
    expect(entry).toMatch(/^dist\/.+\.js$/);
    // dist/x.js is built from src/x.ts…
    const source = entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
    expect(existsSync(join(root, dir, source)), `${dir}/${source}`).toBe(true);
    // …and is what `pnpm <script>` runs outside Docker.
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts[script]).toMatch(new RegExp(`^pnpm run build && node (--\\S+ \\S+ )*${dir}/${entry}$`));
  });

  it('ships pnpm messaggio:check in the worker image', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['messaggio:check']).toMatch(/ apps\/worker\/dist\/bin\/messaggio-check\.js$/);
    expect(existsSync(join(root, 'apps/worker/src/bin/messaggio-check.ts'))).toBe(true);
    expect(target('worker').pkg).toBe('@otp/worker');
  });

  it('publishes the ports the apps listen on by default', () => {
    const apiPort = defaultOf(ApiEnv, 'PORT');
    expect(services.api?.ports?.map(containerPort)).toEqual([apiPort]);
    expect(services.api?.environment?.PORT).toBe(apiPort);
    expect(instruction('api', 'EXPOSE')).toEqual([String(apiPort)]);
    expect(instruction('api', 'HEALTHCHECK')[0]).toContain(`process.env.PORT||${apiPort})`);

    const metricsPort = defaultOf(WorkerEnv, 'METRICS_PORT');
    expect(services.worker?.expose?.map(Number)).toEqual([metricsPort]);
    expect(services.worker?.environment?.METRICS_PORT).toBe(metricsPort);
    expect(services.worker?.ports).toBeUndefined(); // replicas would clash on the host
    expect(instruction('worker', 'EXPOSE')).toEqual([String(metricsPort)]);
    expect(instruction('worker', 'HEALTHCHECK')[0]).toContain(`process.env.METRICS_PORT||${metricsPort};`);
    expect(instruction('worker', 'HEALTHCHECK')[0]).toContain('/health/live');

    const fakePort = Number(/FAKE_MESSAGGIO_PORT \?\? '(\d+)'/.exec(fakeEntry)?.[1]);
    expect(services['fake-messaggio']?.ports?.map(containerPort)).toEqual([fakePort]);
    expect(services['fake-messaggio']?.environment?.FAKE_MESSAGGIO_PORT).toBe(fakePort);
    expect(instruction('fake-messaggio', 'EXPOSE')).toEqual([String(fakePort)]);
  });

  it('names only variables the apps read', () => {
    for (const [name, service] of built) {
      const known = KNOWN_ENV[name] ?? new Set();
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        expect(known.has(variable), `${name}: ${variable} is not a variable ${name} reads`).toBe(true);
        // `X: ${X:-default}` passes the host's value through; a different name is a typo.
        for (const [, interpolated] of String(value).matchAll(/\$\{([A-Z0-9_]+)/g)) {
          expect(interpolated, `${name}: ${variable} is set from \${${interpolated}}`).toBe(variable);
        }
      }
    }
  });

  it('runs Redis with AOF, noeviction and a healthcheck, and the apps only once it is healthy', () => {
    const redis = services.redis;
    expect(redis?.image).toMatch(/^redis:7/);
    expect(redis?.command?.join(' ')).toContain('--appendonly yes');
    expect(redis?.command?.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(redis?.healthcheck?.test).toContain('ping');
    for (const name of ['api', 'worker']) {
      expect(services[name]?.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect((services[name] as { depends_on?: unknown }).depends_on).toEqual({
        redis: { condition: 'service_healthy' },
      });
    }
  });

  it('runs two workers, and the fake Messaggio only under the dev profile', () => {
    expect(services.worker?.deploy?.replicas).toBe(2);
    expect(services['fake-messaggio']?.profiles).toEqual(['dev']);
    for (const name of ['redis', 'api', 'worker']) expect(services[name]?.profiles).toBeUndefined();
    // `docker compose up` must work without a .env: development mode, debug transport.
    const developmentByDefault = ['$', '{NODE_ENV:-development}'].join('');
    expect(services.api?.environment?.NODE_ENV).toBe(developmentByDefault);
    expect(services.worker?.environment?.NODE_ENV).toBe(developmentByDefault);
  });

  it('uses the pnpm that package.json pins, Node 24, and a non-root user with a healthcheck per app', () => {
    const pinned = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager;
    expect(pinned).toMatch(/^pnpm@/);
    expect(dockerfile.match(/pnpm@[\d.]+/g)).toEqual([pinned]);
    for (const stage of stages.values()) {
      if (stage.from.startsWith('node:')) expect(stage.from).toMatch(/^node:24[-.]/);
    }
    expect(instruction('runtime', 'USER')).toEqual(['node']);
    for (const name of ['api', 'worker', 'fake-messaggio']) {
      expect(stages.get(name)?.from, name).toBe('runtime');
      expect(instruction(name, 'HEALTHCHECK'), name).toHaveLength(1);
    }
  });
});

describe('the workspace packages', () => {
  it('are the folders pnpm-workspace.yaml matches that hold a package.json, stray folders aside', () => {
    expect([...packageDirs.keys()].sort()).toEqual(
      expect.arrayContaining(['@otp/api', '@otp/core', '@otp/messaggio', '@otp/worker']),
    );
    const dir = mkdtempSync(join(tmpdir(), 'workspace-'));
    try {
      writeFileSync(
        join(dir, 'pnpm-workspace.yaml'),
        'packages:\n  - apps/*\n  - packages/*\n  - "!packages/old"\n',
      );
      for (const [folder, name] of [
        ['apps/api', '@x/api'],
        ['packages/core', '@x/core'],
        ['packages/old', '@x/old'],
      ] as const) {
        mkdirSync(join(dir, folder), { recursive: true });
        writeFileSync(join(dir, folder, 'package.json'), JSON.stringify({ name }));
      }
      // What `pnpm deploy` into the tree leaves behind: a folder with no package.json of its own.
      mkdirSync(join(dir, 'apps/out/node_modules/x'), { recursive: true });
      writeFileSync(join(dir, 'apps/out/node_modules/x/package.json'), '{"name":"x"}');
      expect(Object.fromEntries(workspacePackages(dir))).toEqual({
        '@x/api': 'apps/api',
        '@x/core': 'packages/core',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.env.example', () => {
  it('lists every variable the API and the worker read', () => {
    const example = read('.env.example');
    const names = new Set([...Object.keys(ApiEnv.properties), ...Object.keys(WorkerEnv.properties)]);
    const missing = [...names].filter((name) => !new RegExp(`^${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  it('lists every FAKE_MESSAGGIO_* variable the fake reads, each also in the README', () => {
    const example = read('.env.example');
    const readme = read('README.md');
    const names = [...new Set(fakeEntry.match(/FAKE_MESSAGGIO_[A-Z_]+/g) ?? [])];
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const name of names) {
      expect(example, name).toMatch(new RegExp(`^${name}=`, 'm'));
      expect(readme, name).toContain(`\`${name}\``);
    }
  });
});
