/**
 * Static checks of the deployment files (no Docker engine or cluster needed): Compose, the
 * Dockerfile and the kustomize base (with its avatar-runner component) agree with each other,
 * with livekit.yaml, with the settings schemas of the worker, the web page and the avatar runner,
 * and with what the build produces; the health paths the images and probes use are answered by
 * the real servers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadRunnerConfig, runnerEnvSchema } from '../src/avatar/runner/env.js';
import { HEALTH_PATH as RUNNER_HEALTH_PATH, READY_PATH as RUNNER_READY_PATH, createRunnerServer } from '../src/avatar/runner/server.js';
import { avatarProfileSchema, loadAvatarProfile } from '../src/config/avatar-profile.js';
import { envSchema, SECRET_VARIABLES } from '../src/config/env.js';
import { createLogger } from '../src/logging.js';
import { loadWebConfig } from '../src/web/config.js';
import { createWebServer } from '../src/web/server.js';

const read = (p: string) => readFileSync(p, 'utf8');
const yamlFile = (p: string) => parse(read(p)) as any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** KEY=value lines of an env file (comments and blanks skipped). */
function envFile(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(p).split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Environment variables the agents framework itself reads (grepped from its build, so "documented" by the code that honours them). */
function agentsFrameworkVariables(): Set<string> {
  const vars = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js') && !e.name.includes('.test.')) for (const m of read(p).matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) vars.add(m[1]!);
    }
  };
  walk('node_modules/@livekit/agents/dist');
  return vars;
}

/** LiveKit server's environment variables (livekit/livekit cmd/server/main.go, baseFlags `Sources: cli.EnvVars(...)`). */
const LIVEKIT_SERVER_VARIABLES = new Set(['LIVEKIT_CONFIG', 'LIVEKIT_KEYS', 'LIVEKIT_REGION', 'NODE_IP', 'UDP_PORT', 'REDIS_HOST', 'REDIS_PASSWORD', 'LIVEKIT_TURN_CERT', 'LIVEKIT_TURN_KEY']);

const schemaKeys = new Set(Object.keys(envSchema.shape));
const agentsVars = agentsFrameworkVariables();
const notOurs = (names: Iterable<string>) => [...names].filter((n) => !schemaKeys.has(n) && !agentsVars.has(n));

/** The variables a loader reads: it is handed an environment that records every name asked for. */
function variablesReadBy(load: (env: NodeJS.ProcessEnv) => unknown): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({}, { get: (_t, key) => (typeof key === 'string' && read.add(key), undefined) });
  try {
    load(env as NodeJS.ProcessEnv);
  } catch {
    // Missing required settings are fine here: only the names matter.
  }
  return read;
}
/** What the web server reads (src/web/config.ts), and the avatar runner (src/avatar/runner/env.ts). */
const webKeys = variablesReadBy(loadWebConfig);
const runnerKeys = new Set(Object.keys(runnerEnvSchema.shape));
const notWeb = (names: Iterable<string>) => [...names].filter((n) => !webKeys.has(n));
const notRunner = (names: Iterable<string>) => [...names].filter((n) => !runnerKeys.has(n));
const SECRETS = new Set<string>(SECRET_VARIABLES);

/** The port an http://host:port URL names (the scheme's default when absent). */
const urlPort = (u: string) => Number(new URL(u).port || (new URL(u).protocol === 'https:' ? 443 : 80));

// --- Dockerfile -----------------------------------------------------------------------------------

interface Stage {
  name: string | undefined;
  from: string;
  instructions: { op: string; args: string }[];
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (op === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const from = fm[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ name: fm[2], from, instructions: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const am = /^(\w+)=(\S+)$/.exec(rest);
      if (am) args[am[1]!] = am[2]!;
    } else if (stages.length) {
      stages.at(-1)!.instructions.push({ op, args: rest });
    }
  }
  return { args, stages };
}

/** The instructions in force for a stage: its own, after those of the stages it builds FROM. */
function effective(stages: Stage[], stage: Stage): { op: string; args: string }[] {
  const parent = stages.find((s) => s.name === stage.from);
  return [...(parent ? effective(stages, parent) : []), ...stage.instructions];
}

const lastOf = (ins: { op: string; args: string }[], op: string) => ins.filter((i) => i.op === op).at(-1)?.args;

/** ENV KEY=value pairs in force (later ones win). */
function envOf(ins: { op: string; args: string }[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of ins.filter((i) => i.op === 'ENV')) for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return env;
}

/**
 * Where a HEALTHCHECK's fetch goes: `http://127.0.0.1:8081/` or
 * `'http://127.0.0.1:' + (process.env.WEB_PORT || 3000) + '/healthz'`.
 */
function healthcheckTarget(hc: string): { port: number; portVariable?: string; path: string } {
  const fixed = /http:\/\/127\.0\.0\.1:(\d+)(\/[^'"\s]*)/.exec(hc);
  if (fixed) return { port: Number(fixed[1]), path: fixed[2]! };
  const variable = /'http:\/\/127\.0\.0\.1:' \+ \(process\.env\.(\w+) \|\| (\d+)\) \+ '(\/[^']*)'/.exec(hc);
  if (!variable) throw new Error(`HEALTHCHECK fetches no http://127.0.0.1 URL: ${hc}`);
  return { port: Number(variable[2]), portVariable: variable[1]!, path: variable[3]! };
}

const dockerfile = parseDockerfile(read('deploy/Dockerfile'));
const stageNamed = (name: string) => {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`deploy/Dockerfile has no stage ${name}`);
  return effective(dockerfile.stages, stage);
};
/** The image's user id, as Kubernetes' runAsUser must name it. */
const imageUser = (target: string) => Number(lastOf(stageNamed(target), 'USER')!.split(':')[0]);

describe('Dockerfile', () => {
  const { stages } = parseDockerfile(read('deploy/Dockerfile'));
  const runtime = stages.at(-1)!;
  const runtimeIns = effective(stages, runtime);

  it('is multi-stage, the runtime last (the default target), from a pinned Debian Node image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(runtime.name).toBe('runtime');
    for (const s of stages.filter((s) => !stages.some((o) => o.name === s.from))) {
      expect(s.from).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    }
  });

  it('preloads jemalloc in every image, from the path its own install links (glibc malloc fragments under a call)', () => {
    for (const target of ['runtime', 'web', 'runner', 'tools']) {
      const ins = stageNamed(target);
      const preload = envOf(ins).LD_PRELOAD;
      expect(preload, target).toBe('/usr/local/lib/libjemalloc.so.2');
      expect(ins.some((i) => i.op === 'RUN' && /apt-get install [^&]*libjemalloc2/.test(i.args) && i.args.includes(`ln -s "$(dpkg -L libjemalloc2 | grep '/libjemalloc\\.so\\.2$')" ${preload}`)), target).toBe(true);
    }
  });

  it('runs dist/src/main.js start, which the build makes from src/main.ts', () => {
    expect(JSON.parse(lastOf(runtimeIns, 'CMD')!)).toEqual(['node', 'dist/src/main.js', 'start']);
    expect(existsSync('src/main.ts')).toBe(true);
    // The same compile the image's build stage runs (npm run build:worker), into a scratch directory.
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(read('deploy/Dockerfile')).toContain('RUN npm run build:worker');
    expect(pkg.scripts['build:worker']).toBe('tsc -p tsconfig.build.json');
    const out = mkdtempSync(join(tmpdir(), 'deploy-build-'));
    try {
      const tsc = spawnSync('node_modules/.bin/tsc', ['-p', 'tsconfig.build.json', '--outDir', out], { encoding: 'utf8' });
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
      expect(existsSync(join(out, 'src/main.js'))).toBe(true);
      expect(existsSync(join(out, 'src/agent.js'))).toBe(true);
      // The web and runner targets run these, from the same compile.
      expect(existsSync(join(out, 'src/web/main.js'))).toBe(true);
      expect(existsSync(join(out, 'src/avatar/runner/main.js'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('installs production dependencies only, with .npmrc in place, and ships no dev dependency', () => {
    const deps = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)));
    expect(deps).toBeDefined();
    const idx = deps!.instructions.findIndex((i) => i.op === 'RUN' && /npm ci/.test(i.args));
    expect(deps!.instructions.slice(0, idx).some((i) => i.op === 'COPY' && /\.npmrc/.test(i.args))).toBe(true);
    expect(read('.npmrc')).toMatch(/^onnxruntime-node-install=skip$/m);
    const nodeModulesFrom = runtimeIns.filter((i) => i.op === 'COPY' && /node_modules/.test(i.args)).map((i) => /--from=(\S+)/.exec(i.args)?.[1]);
    expect(nodeModulesFrom).toEqual([deps!.name]);
  });

  it('applies patches/ (upstream memory fixes) in every npm ci: the patches are copied first and patch-package is a production dependency', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; dependencies: Record<string, string> };
    expect(pkg.scripts.postinstall).toBe('patch-package');
    expect(pkg.dependencies['patch-package']).toMatch(/^\d+\.\d+\.\d+$/);
    for (const s of stages) {
      const idx = s.instructions.findIndex((i) => i.op === 'RUN' && /npm ci/.test(i.args));
      if (idx < 0) continue;
      expect(s.instructions.slice(0, idx).some((i) => i.op === 'COPY' && /^patches\b/.test(i.args)), `stage ${s.name} runs npm ci before copying patches/`).toBe(true);
    }
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
    for (const s of stages) {
      for (const i of s.instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) {
          expect(existsSync(src), `COPY ${src}`).toBe(true);
          expect(ignored.filter((pat) => pat === src || pat === src.replace(/\/$/, '')), `${src} is in .dockerignore`).toEqual([]);
        }
      }
    }
    for (const secretish of ['.env', 'node_modules', 'dist']) expect(ignored).toContain(secretish);
  });

  it('runs as a non-root user, by number', () => {
    const user = lastOf(runtimeIns, 'USER');
    expect(user).toBeDefined();
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
  });

  it('has a HEALTHCHECK on the agents health endpoint (HEALTH_PORT, 8081 in production; path /) and exposes it', () => {
    expect(healthcheckTarget(lastOf(runtimeIns, 'HEALTHCHECK')!)).toEqual({ port: 8081, portVariable: 'HEALTH_PORT', path: '/' });
    expect(schemaKeys.has('HEALTH_PORT')).toBe(true);
    expect(lastOf(runtimeIns, 'EXPOSE')!.split(/\s+/)).toEqual(expect.arrayContaining(['8081', '9464']));
  });

  it('needs no model download: the VAD and the turn detector ship in node_modules', () => {
    expect(statSync('node_modules/@livekit/agents-plugin-silero/dist/silero_vad.onnx').size).toBeGreaterThan(100_000);
    // The end-of-turn weights are compiled into the native addon (one per platform).
    const native = readdirSync('node_modules/@livekit').filter((d) => d.startsWith('local-inference-'));
    expect(native.length).toBeGreaterThan(0);
    const binary = readdirSync(join('node_modules/@livekit', native[0]!)).find((f) => f.endsWith('.node'));
    expect(statSync(join('node_modules/@livekit', native[0]!, binary!)).size).toBeGreaterThan(10_000_000);
    expect(read('deploy/Dockerfile')).not.toMatch(/download-files|huggingface|curl .*\.onnx/);
  });
});

describe('Dockerfile: the web and runner targets', () => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };

  it('the web target runs what `npm run start:web` runs, the runner what `npm run avatar-runner` runs, built', () => {
    expect(JSON.parse(lastOf(stageNamed('web'), 'CMD')!).join(' ')).toBe(pkg.scripts['start:web']);
    // tsx src/avatar/runner/main.ts in development → node dist/src/avatar/runner/main.js built.
    const dev = /^tsx (src\/\S+)\.ts$/.exec(pkg.scripts['avatar-runner']!)![1]!;
    expect(JSON.parse(lastOf(stageNamed('runner'), 'CMD')!)).toEqual(['node', `dist/${dev}.js`]);
  });

  it('the web target carries the page, built by `npm run build:web` in a build stage, where the server looks', () => {
    const web = dockerfile.stages.find((s) => s.name === 'web')!;
    const pageCopy = web.instructions.find((i) => i.op === 'COPY' && i.args.includes('dist/web'))!;
    const from = /--from=(\S+)/.exec(pageCopy.args)![1]!;
    expect(stageNamed(from).some((i) => i.op === 'RUN' && i.args === 'npm run build:web')).toBe(true);
    expect(pageCopy.args.split(/\s+/).at(-1)).toBe('./dist/web');
    // src/web/main.ts serves 'dist/web' relative to the working directory: /app.
    expect(read('src/web/main.ts')).toContain("staticDir: 'dist/web'");
    expect(lastOf(stageNamed('web'), 'WORKDIR')).toBe('/app');
    expect(pkg.scripts['build:web']).toBe('vite build --config web/vite.config.ts');
    // The page builds (the same Vite build, into a scratch directory).
    const out = mkdtempSync(join(tmpdir(), 'deploy-web-'));
    try {
      const vite = spawnSync('node_modules/.bin/vite', ['build', '--config', 'web/vite.config.ts', '--outDir', out, '--emptyOutDir', '--logLevel', 'error'], { encoding: 'utf8' });
      expect(vite.status, vite.stdout + vite.stderr).toBe(0);
      expect(read(join(out, 'index.html'))).toMatch(/<script[^>]+src="\/assets\//);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it.each(['web', 'runner', 'runtime'])('%s: production dependencies only, non-root by number', (target) => {
    const ins = stageNamed(target);
    const from = ins.filter((i) => i.op === 'COPY' && /node_modules/.test(i.args)).map((i) => /--from=(\S+)/.exec(i.args)?.[1]);
    expect(from).toHaveLength(1);
    expect(dockerfile.stages.find((s) => s.name === from[0])!.instructions.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args))).toBe(true);
    expect(lastOf(ins, 'USER')).toMatch(/^[1-9]\d*(:\d+)?$/);
  });

  it('each target listens on all interfaces at the port it exposes, and its HEALTHCHECK asks that port', () => {
    const expected = { web: { host: 'WEB_HOST', port: 'WEB_PORT', path: '/healthz' }, runner: { host: 'AVATAR_RUNNER_HOST', port: 'AVATAR_RUNNER_PORT', path: RUNNER_HEALTH_PATH } };
    for (const [target, names] of Object.entries(expected)) {
      const ins = stageNamed(target);
      const env = envOf(ins);
      expect(env[names.host], target).toBe('0.0.0.0');
      const hc = healthcheckTarget(lastOf(ins, 'HEALTHCHECK')!);
      expect(hc, target).toEqual({ port: Number(env[names.port]), portVariable: names.port, path: names.path });
      expect(lastOf(ins, 'EXPOSE')!.split(/\s+/), target).toEqual([env[names.port]]);
    }
    // The worker's: the agents health server, 8081 unless HEALTH_PORT says otherwise.
    expect(healthcheckTarget(lastOf(stageNamed('runtime'), 'HEALTHCHECK')!)).toEqual({ port: 8081, portVariable: 'HEALTH_PORT', path: '/' });
    // The tools image runs commands, not a server: no health check inherited.
    expect(lastOf(stageNamed('tools'), 'HEALTHCHECK')).toBeUndefined();
  });
});

// --- the health paths: answered by the real servers ------------------------------------------------

describe('health paths the images and probes use', () => {
  it('the web server answers GET /healthz with 200', async () => {
    const app = await createWebServer(loadWebConfig({}));
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${base}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    } finally {
      await app.close();
    }
  });

  it(`the avatar runner answers GET ${RUNNER_HEALTH_PATH} with 200`, async () => {
    const runner = await createRunnerServer({
      launchSecret: 'deploy-test-secret-0123456789',
      profile: await loadAvatarProfile('avatars', 'default'),
      logger: createLogger({ level: 'silent' }),
      maxSessions: 1,
    });
    try {
      const base = await runner.app.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${base}${RUNNER_HEALTH_PATH}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', sessions: 0 });
      expect((await fetch(`${base}${RUNNER_READY_PATH}`)).status).toBe(200);
    } finally {
      await runner.close();
    }
  });

  it("the worker's is the agents framework's health server: GET / (and /worker)", () => {
    const server = read('node_modules/@livekit/agents/dist/http_server.js');
    expect(server).toContain('req.url === "/"');
    expect(server).toContain('req.url === "/worker"');
  });
});

// --- Compose -------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const compose = yamlFile('docker-compose.yml');
  const services = compose.services as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const livekit = yamlFile('livekit.yaml');

  it('parses, with the services and profiles the README describes', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['livekit-server', 'worker', 'web', 'avatar-runner', 'redis', 'livekit-server-b', 'ollama', 'speaches', 'kokoro', 'models']));
    for (const s of ['livekit-server', 'worker', 'web']) expect(services[s].profiles, s).toBeUndefined();
    expect(services['avatar-runner'].profiles).toEqual(['runner']);
    for (const s of ['redis', 'livekit-server-b']) expect(services[s].profiles).toEqual(['multinode']);
    for (const s of ['ollama', 'speaches', 'kokoro', 'models']) expect(services[s].profiles).toEqual(['selfhosted']);
  });

  it('pins every image to a version (a tag, never latest)', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.image) {
        expect(svc.build, `${name} has neither image nor build`).toBeDefined();
        continue;
      }
      const image = String(svc.image);
      const lastSegment = image.split('/').at(-1)!;
      expect(lastSegment, `${name}: ${image} has no tag`).toContain(':');
      const tag = lastSegment.split(':').at(-1)!;
      expect(tag, `${name}: ${image}`).not.toMatch(/latest/);
      expect(tag, `${name}: ${image} is not a version`).toMatch(/\d+\.\d+/);
    }
  });

  it('builds the worker, the web page and the avatar runner from existing Dockerfile targets', () => {
    const built = Object.entries(services).filter(([, svc]) => svc.build);
    expect(Object.fromEntries(built.map(([name, svc]) => [name, svc.build.target]))).toEqual({ worker: 'runtime', web: 'web', 'avatar-runner': 'runner' });
    for (const [name, svc] of built) {
      const file = join(svc.build.context, svc.build.dockerfile);
      expect(existsSync(file), name).toBe(true);
      expect(parseDockerfile(read(file)).stages.map((s) => s.name), name).toContain(svc.build.target);
    }
  });

  it('publishes the ports livekit.yaml configures, for each LiveKit node', () => {
    const published = (svc: string) => (services['livekit-server'].ports as string[]).concat(services[svc].ports ?? []);
    const nodes: [string, any][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      ['livekit-server', livekit],
      ['livekit-server-b', yamlFile('deploy/compose/livekit-node-b.yaml')],
    ];
    for (const [svc, conf] of nodes) {
      const ports = published(svc);
      expect(ports, svc).toContain(`${conf.port}:${conf.port}`);
      expect(ports, svc).toContain(`${conf.rtc.tcp_port}:${conf.rtc.tcp_port}`);
      expect(ports, svc).toContain(`${conf.rtc.udp_port}:${conf.rtc.udp_port}/udp`);
      // Media is advertised where both the host's browser and the worker find it.
      expect(conf.rtc.node_ip).toBe('127.0.0.1');
      expect(conf.keys).toEqual(livekit.keys);
      // The config file mounted is the one the command names.
      const mount = (services[svc].volumes as string[]).find((v) => v.endsWith(':/etc/livekit.yaml:ro'))!;
      expect(existsSync(mount.split(':')[0]!)).toBe(true);
      expect(services[svc].command).toEqual(['--config', '/etc/livekit.yaml']);
    }
    expect(yamlFile('deploy/compose/livekit-node-b.yaml').redis.address).toBe('redis:6379');
    expect(livekit.port).toBe(7880);
    expect([livekit.rtc.tcp_port, livekit.rtc.udp_port]).toEqual([7881, 7882]);
  });

  it('wires the worker to the compose LiveKit server with the dev keys', () => {
    const w = services.worker;
    expect(w.network_mode).toBe('service:livekit-server');
    expect(w.environment.LIVEKIT_URL).toBe(`ws://127.0.0.1:${livekit.port}`);
    expect(livekit.keys[w.environment.LIVEKIT_API_KEY]).toBe(w.environment.LIVEKIT_API_SECRET);
    // Its ports live on the namespace's owner.
    const ports = services['livekit-server'].ports as string[];
    expect(ports).toContain('8081:8081');
    expect(ports).toContain(`${w.environment.METRICS_PORT}:${w.environment.METRICS_PORT}`);
    // docker compose down: the drain ends before compose's stop timeout kills the worker.
    expect(Number(w.environment.DRAIN_TIMEOUT_MS) / 1000).toBeLessThan(parseInt(w.stop_grace_period, 10));
  });

  it('sets only environment variables of our schema or the agents framework on the worker', () => {
    const w = services.worker;
    expect(notOurs(Object.keys(w.environment))).toEqual([]);
    const overlays = readdirSync('deploy/compose').filter((f) => /^worker\..+\.env$/.test(f));
    expect(overlays).toEqual(expect.arrayContaining(['worker.none.env', 'worker.selfhosted.env']));
    for (const f of overlays) expect(notOurs(Object.keys(envFile(join('deploy/compose', f)))), f).toEqual([]);
    expect(notOurs(Object.keys(services['livekit-server'].environment).filter((k) => !LIVEKIT_SERVER_VARIABLES.has(k)))).toEqual([]);
  });

  it('the selfhosted overlay points every stage at a compose service, with no API key', () => {
    const env = envFile('deploy/compose/worker.selfhosted.env');
    expect(env).toMatchObject({ STT_PROVIDER: 'openai', TTS_PROVIDER: 'openai', TTS_VOICE: 'af_heart' });
    const host = (url: string) => new URL(url).hostname;
    expect(host(env.STT_BASE_URL!)).toBe('speaches');
    expect(host(env.LLM_BASE_URL!)).toBe('ollama');
    expect(host(env.TTS_BASE_URL!)).toBe('kokoro');
    for (const k of ['STT_API_KEY', 'LLM_API_KEY', 'TTS_API_KEY']) expect(env[k]).toBe('unused');
    // The downloader fetches the models the worker will ask for.
    const models = services.models;
    expect(models.env_file.map((e: { path: string }) => e.path)).toContain('deploy/compose/worker.selfhosted.env');
    expect(models.command.join('\n')).toMatch(/\$\$LLM_MODEL/);
    expect(models.command.join('\n')).toMatch(/\$\$STT_MODEL/);
    expect(services.worker.depends_on.models).toEqual({ condition: 'service_completed_successfully', required: false });
  });

  it('the --env-files only set Compose settings and variables the compose file uses', () => {
    const text = read('docker-compose.yml');
    const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}/g)].map((m) => m[1]!));
    for (const f of ['deploy/compose/selfhosted.env', 'deploy/compose/multinode.env', 'deploy/compose/runner.env']) {
      const env = envFile(f);
      expect(env.COMPOSE_PROFILES, f).toBeDefined();
      for (const k of Object.keys(env).filter((k) => !k.startsWith('COMPOSE_'))) expect(used, `${f}: ${k}`).toContain(k);
      for (const p of env.COMPOSE_PROFILES!.split(',')) {
        expect(Object.values(services).some((s) => (s.profiles ?? []).includes(p)), `${f}: profile ${p}`).toBe(true);
      }
    }
    expect(envFile('deploy/compose/selfhosted.env').WORKER_PROVIDERS_ENV).toBe('deploy/compose/worker.selfhosted.env');
    expect(envFile('deploy/compose/runner.env').WORKER_AVATAR_ENV).toBe('deploy/compose/worker.runner.env');
    // Every overlay path an --env-file names exists.
    for (const f of ['deploy/compose/selfhosted.env', 'deploy/compose/runner.env']) {
      for (const [k, v] of Object.entries(envFile(f))) if (k.endsWith('_ENV')) expect(existsSync(v), `${f}: ${k}`).toBe(true);
    }
    // Every ${VAR} is either defaulted or set by one of those files.
    for (const m of text.matchAll(/\$\{([A-Z0-9_]+)(:?-)?[^}]*\}/g)) expect(m[2], `\${${m[1]}} without a default`).toBeDefined();
    // The worker's overlay path resolves to an existing file in both cases.
    expect(existsSync('deploy/compose/worker.none.env')).toBe(true);
  });

  it('serves the web page on the host\'s localhost:3000, handing browsers ws://localhost:7880 and tokens the compose server accepts', () => {
    const web = services.web;
    const env = web.environment as Record<string, string>;
    expect(notWeb(Object.keys(env))).toEqual([]);
    // The settings the server starts with are valid (and point browsers at the published LiveKit port).
    const config = loadWebConfig(env);
    expect(config.livekit.publicUrl).toBe(`ws://localhost:${livekit.port}`);
    expect(services['livekit-server'].ports).toContain(`${livekit.port}:${livekit.port}`);
    expect(livekit.keys[config.livekit.apiKey]).toBe(config.livekit.apiSecret);
    // Published on the host's loopback at the port the server listens on, all interfaces inside.
    expect(config.host).toBe('0.0.0.0');
    expect(web.ports).toEqual([`127.0.0.1:3000:${config.port}`]);
    // The page's own origin may ask for tokens, so the server does not run open.
    expect(config.protection.allowedOrigins).toContain('http://localhost:3000');
    // A WebRTC-free service: its own network, not LiveKit's namespace.
    expect(web.network_mode).toBeUndefined();
    // Your .env, like `npm run web` (LIVEKIT_AGENT_NAME must match the worker's), optional.
    expect(web.env_file).toEqual([{ path: '.env', required: false }]);
  });

  it('the runner profile: the worker launches the runner in the same network namespace, with the same secret', async () => {
    const runner = services['avatar-runner'];
    expect(runner.network_mode).toBe('service:livekit-server');
    const runnerEnv = { ...envFile(runner.env_file[0].path), ...runner.environment } as Record<string, string>;
    expect(notRunner(Object.keys(runnerEnv))).toEqual([]);
    // The runner's own loader accepts them (a missing or short secret would stop it).
    const config = loadRunnerConfig(runnerEnv);
    expect(config.livekitUrlOverride).toBe(`ws://127.0.0.1:${livekit.port}`);
    // The worker's avatar overlay: AVATAR names the profile mounted into the worker, the secret is the runner's.
    const overlay = envFile('deploy/compose/worker.runner.env');
    expect(notOurs(Object.keys(overlay))).toEqual([]);
    expect(envSchema.pick({ AVATAR: true, AVATAR_LAUNCH_SECRET: true }).safeParse(overlay).success).toBe(true);
    expect(overlay.AVATAR_LAUNCH_SECRET).toBe(config.launchSecret);
    const envFiles = (services.worker.env_file as { path: string }[]).map((e) => e.path);
    expect(envFiles).toContain('${WORKER_AVATAR_ENV:-deploy/compose/worker.none.env}');
    const mount = (services.worker.volumes as string[]).find((v) => v.includes(':/app/avatars/'))!;
    const [source, target] = mount.split(':') as [string, string];
    // /app/avatars is the image's AVATARS_DIR (WORKDIR /app, AVATARS_DIR=avatars by default).
    expect(target).toBe(`${lastOf(stageNamed('runtime'), 'WORKDIR')}/${envSchema.shape.AVATARS_DIR.parse(undefined)}/${overlay.AVATAR}`);
    expect(source.split('/').at(-1)).toBe(overlay.AVATAR);
    const profile = await loadAvatarProfile(join(source, '..'), overlay.AVATAR!);
    expect(profile.adapter).toBe('selfhosted');
    const p = profile as Extract<typeof profile, { adapter: 'selfhosted' }>;
    // Where the runner listens, in the shared namespace.
    expect(new URL(p.apiUrl).hostname).toBe(config.host);
    expect(urlPort(p.apiUrl)).toBe(config.port);
    // Our runner reports playback start; and the worker renders the face itself when the runner cannot.
    expect(p.waitPlaybackStart).toBe(true);
    expect(p.fallback.length).toBeGreaterThan(0);
    for (const f of p.fallback) expect(existsSync(join('avatars', f, 'avatar.json')), f).toBe(true);
    // The runner renders a profile from the image's avatars/ that it can render itself.
    expect((await loadAvatarProfile('avatars', config.avatar)).adapter).toBe('builtin');
  });

  it('the worker waits for a healthy runner when the profile is on, and does not need it otherwise', () => {
    expect(services.worker.depends_on['avatar-runner']).toEqual({ condition: 'service_healthy', required: false });
    // service_healthy needs a health check: the runner image has one.
    expect(lastOf(stageNamed(services['avatar-runner'].build.target), 'HEALTHCHECK')).toBeDefined();
    // Its port is not published on the host: only the worker launches avatars.
    expect((services['livekit-server'].ports as string[]).some((p) => p.includes(String(services['avatar-runner'].environment.AVATAR_RUNNER_PORT)))).toBe(false);
  });
});

// --- Kubernetes ------------------------------------------------------------------------------------

// Kubernetes objects are loose JSON here.
type K8s = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } };
type EnvFrom = { configMapRef?: { name: string }; secretRef?: { name: string } };

const yamlDocs = (p: string): K8s[] => parseAllDocuments(read(p)).map((d) => d.toJS()).filter(Boolean);
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

/** The variables a container gets: from its ConfigMaps (envFrom, whole) and its own env entries. */
function containerVariables(c: K8s, configMaps: K8s[]): string[] {
  const fromMaps = (c.envFrom ?? []).flatMap((e: EnvFrom) => (e.configMapRef ? Object.keys(configMaps.find((m) => m.metadata.name === e.configMapRef!.name)?.data ?? {}) : []));
  return [...fromMaps, ...(c.env ?? []).map((e: EnvVar) => e.name)];
}

/** Every probe of a container: its HTTP path, and the containerPort its port (name or number) names. */
function probes(c: K8s): { probe: string; path: string; port: number | undefined }[] {
  return ['startupProbe', 'readinessProbe', 'livenessProbe']
    .filter((p) => c[p])
    .map((p) => {
      const get = c[p].httpGet;
      const port = c.ports.find((cp: { name?: string; containerPort: number }) => cp.name === get.port || cp.containerPort === get.port)?.containerPort;
      return { probe: p, path: get.path, port };
    });
}

describe('deploy/k8s (kustomize)', () => {
  const dir = 'deploy/k8s';
  const kustomization = yamlFile(join(dir, 'kustomization.yaml'));
  const docs = (kustomization.resources as string[]).flatMap((r) => yamlDocs(join(dir, r)));
  const byKind = (kind: string) => docs.filter((d) => d?.kind === kind);
  const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const deployment = named('Deployment', 'voice-avatar-worker');
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === 'worker');
  const configMap = named('ConfigMap', 'voice-avatar-worker-config');
  const secretTemplate = yamlFile(join(dir, 'secret.template.yaml'));
  const secretName = secretTemplate.metadata.name as string;
  const web = named('Deployment', 'voice-avatar-web');
  const webContainer = web.spec.template.spec.containers.find((c: { name: string }) => c.name === 'web');
  const webService = named('Service', 'voice-avatar-web');
  const version = JSON.parse(read('package.json')).version as string;

  it('lists only resources that exist, and they parse', () => {
    for (const r of kustomization.resources as string[]) expect(existsSync(join(dir, r)), r).toBe(true);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ConfigMap/voice-avatar-worker-config',
      'Deployment/voice-avatar-web',
      'Deployment/voice-avatar-worker',
      'HorizontalPodAutoscaler/voice-avatar-worker',
      'PodDisruptionBudget/voice-avatar-worker',
      'Service/voice-avatar-web',
    ]);
    // One image per Dockerfile target, each tagged with the package's version.
    expect(Object.fromEntries(kustomization.images.map((i: { name: string; newTag: string }) => [i.name, String(i.newTag)]))).toEqual({ 'voice-avatar-worker': version, 'voice-avatar-web': version });
    expect(container.image).toBe('voice-avatar-worker');
    expect(webContainer.image).toBe('voice-avatar-web');
  });

  it('points every worker probe at the health port HEALTH_PORT sets (8081, path /)', () => {
    const health = container.ports.find((p: { name: string }) => p.name === 'health');
    expect(health.containerPort).toBe(8081);
    expect(Number(configMap.data.HEALTH_PORT ?? 8081)).toBe(health.containerPort);
    // The default host listens on every interface, where the kubelet's probes arrive.
    expect(configMap.data.HEALTH_HOST ?? envSchema.shape.HEALTH_HOST.parse(undefined)).toBe('0.0.0.0');
    expect(probes(container).map((p) => p.probe)).toEqual(['startupProbe', 'readinessProbe', 'livenessProbe']);
    for (const p of probes(container)) expect(p, p.probe).toMatchObject({ path: '/', port: health.containerPort });
  });

  it('keeps terminationGracePeriodSeconds above the drain timeout plus shutdown', () => {
    const drainS = Number(configMap.data.DRAIN_TIMEOUT_MS) / 1000;
    expect(drainS).toBeGreaterThan(0);
    // After the drain, the framework gives each remaining job up to 60 s (shutdownProcessTimeout).
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainS + 60);
    expect(deployment.spec.strategy.rollingUpdate).toMatchObject({ maxUnavailable: 0 });
  });

  it('sets only variables of our schema or the agents framework, and every value parses', () => {
    expect(notOurs(Object.keys(configMap.data))).toEqual([]);
    expect(notOurs(Object.keys(secretTemplate.stringData))).toEqual([]);
    expect(notOurs((container.env ?? []).map((e: { name: string }) => e.name))).toEqual([]);
    // The values are valid for the worker's schema (the keys it shares with the web page too).
    const known = Object.fromEntries(Object.entries(configMap.data as Record<string, string>).filter(([k]) => schemaKeys.has(k)));
    const parsed = envSchema.safeParse(known);
    expect(parsed.success, JSON.stringify(parsed.error?.issues[0])).toBe(true);
    const refs = container.envFrom.map((e: EnvFrom) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(refs).toEqual([configMap.metadata.name, secretName]);
  });

  it('keeps every secret in the Secret only: the template names them all, with no values, and nothing else holds one', () => {
    const keys = Object.keys(secretTemplate.stringData);
    expect(keys.filter((k) => !SECRETS.has(k) && k !== 'LIVEKIT_API_KEY')).toEqual([]);
    expect([...SECRETS].filter((k) => !keys.includes(k))).toEqual([]);
    // A template: no real values.
    expect(Object.values(secretTemplate.stringData).every((v) => v === '')).toBe(true);
    // Not applied by the kustomization (you create it), and no ConfigMap or env value carries a secret.
    expect(kustomization.resources).not.toContain('secret.template.yaml');
    const componentDocs = readdirSync(join(dir, 'avatar-runner')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').flatMap((f) => yamlDocs(join(dir, 'avatar-runner', f)));
    for (const d of [...docs, ...componentDocs]) {
      if (d.kind === 'ConfigMap') expect(Object.keys(d.data ?? {}).filter((k) => SECRETS.has(k)), d.metadata.name).toEqual([]);
      if (d.kind === 'Secret') throw new Error(`a Secret in the manifests: ${d.metadata.name}`);
      for (const c of d.spec?.template?.spec?.containers ?? []) {
        for (const e of (c.env ?? []) as EnvVar[]) {
          if (!SECRETS.has(e.name) && e.name !== 'LIVEKIT_API_KEY') continue;
          expect(e.value, `${d.metadata.name}/${c.name}: ${e.name}`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef, `${d.metadata.name}/${c.name}: ${e.name}`).toEqual(expect.objectContaining({ name: secretName, key: e.name }));
        }
        for (const e of (c.env ?? []) as EnvVar[]) if (e.valueFrom?.secretKeyRef) expect(keys, `${c.name}: ${e.name}`).toContain(e.valueFrom.secretKeyRef.key);
      }
    }
  });

  it('exposes /metrics on the METRICS_PORT the ConfigMap sets', () => {
    const port = Number(configMap.data.METRICS_PORT);
    expect(container.ports.find((p: { name: string }) => p.name === 'metrics').containerPort).toBe(port);
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(port));
  });

  it('runs as the image user, non-root, with /tmp writable under a read-only root', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUser('runtime') });
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain('/tmp');
  });

  it('HPA, PDB and Deployment select the same pods, and not the web page', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
    const pdb = byKind('PodDisruptionBudget')[0].spec.selector.matchLabels;
    expect(labels).toMatchObject(pdb);
    expect(web.spec.template.metadata.labels).not.toMatchObject(pdb);
    expect(byKind('HorizontalPodAutoscaler')[0].spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(deployment.spec.replicas).toBeUndefined();
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  describe('the web page', () => {
    it('gets the settings the web server reads, from the shared ConfigMap, and the LiveKit key from the Secret', () => {
      expect(webContainer.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
      expect(notWeb((webContainer.env as EnvVar[]).map((e) => e.name))).toEqual([]);
      expect(Object.fromEntries((webContainer.env as EnvVar[]).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]))).toMatchObject({ LIVEKIT_API_KEY: secretName, LIVEKIT_API_SECRET: secretName });
      // The web server starts with the ConfigMap's values (and placeholder keys where the Secret goes).
      const env = { ...configMap.data, LIVEKIT_API_KEY: 'APIplaceholder', LIVEKIT_API_SECRET: 'placeholder-secret' } as Record<string, string>;
      const config = loadWebConfig(env);
      expect(config.host).toBe('0.0.0.0');
      expect(config.livekit.publicUrl).toMatch(/^wss:\/\//);
      // Open to the internet: an origin list (or a shared key) so it is not an open token mint.
      expect(config.protection.allowedOrigins.length).toBeGreaterThan(0);
    });

    it('listens on the port the container and the Service name, and is probed at /healthz', () => {
      const http = webContainer.ports.find((p: { name: string }) => p.name === 'http');
      expect(http.containerPort).toBe(Number(configMap.data.WEB_PORT));
      expect(probes(webContainer).length).toBeGreaterThanOrEqual(2);
      for (const p of probes(webContainer)) expect(p, p.probe).toMatchObject({ path: '/healthz', port: http.containerPort });
      // The Service reaches those pods on that port.
      expect(web.spec.template.metadata.labels).toMatchObject(webService.spec.selector);
      expect(web.spec.selector.matchLabels).toMatchObject(webService.spec.selector);
      expect(webService.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual([http.name]);
    });

    it('runs as the web image user, non-root, read-only, with resources', () => {
      expect(web.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUser('web') });
      expect(webContainer.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(webContainer.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
      expect(webContainer.resources.limits.memory).toBeDefined();
    });
  });

  it.skipIf(!hasKubectl)('builds with kubectl kustomize', () => {
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    expect(out).toContain(`image: voice-avatar-worker:${version}`);
    expect(out).toContain(`image: voice-avatar-web:${version}`);
  });
});

describe('deploy/k8s/avatar-runner (kustomize component: the runner on a GPU host)', () => {
  const base = 'deploy/k8s';
  const dir = join(base, 'avatar-runner');
  const component = yamlFile(join(dir, 'kustomization.yaml'));
  const docs = (component.resources as string[]).flatMap((r) => yamlDocs(join(dir, r)));
  const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const runner = named('Deployment', 'voice-avatar-runner');
  const runnerPod = runner.spec.template.spec;
  const runnerContainer = runnerPod.containers.find((c: { name: string }) => c.name === 'runner');
  const runnerConfig = named('ConfigMap', 'voice-avatar-runner-config');
  const service = named('Service', 'voice-avatar-runner');
  const baseDocs = (yamlFile(join(base, 'kustomization.yaml')).resources as string[]).flatMap((r) => yamlDocs(join(base, r)));
  const secretTemplate = yamlFile(join(base, 'secret.template.yaml'));
  const patches = (component.patches as { path: string }[]).flatMap((p) => yamlDocs(join(dir, p.path)));
  const profileFile = (component.configMapGenerator[0].files[0] as string).split('=');
  const workerProfile = avatarProfileSchema.parse(JSON.parse(read(join(dir, profileFile[1]!))));

  it('is a Component whose files exist and parse', () => {
    expect(component.kind).toBe('Component');
    for (const r of [...component.resources, ...component.patches.map((p: { path: string }) => p.path), profileFile[1]]) expect(existsSync(join(dir, r)), r).toBe(true);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(['ConfigMap/voice-avatar-runner-config', 'Deployment/voice-avatar-runner', 'Service/voice-avatar-runner']);
    expect(component.images).toEqual([{ name: 'voice-avatar-runner', newTag: JSON.parse(read('package.json')).version }]);
    expect(runnerContainer.image).toBe('voice-avatar-runner');
  });

  it('sets only the runner\'s variables, valid for its loader, with the launch secret from the Secret', () => {
    const names = containerVariables(runnerContainer, [...docs, ...baseDocs]);
    expect(notRunner(names)).toEqual([]);
    const secret = (runnerContainer.env as EnvVar[]).find((e) => e.name === 'AVATAR_LAUNCH_SECRET')!;
    expect(secret.valueFrom?.secretKeyRef).toEqual({ name: secretTemplate.metadata.name, key: 'AVATAR_LAUNCH_SECRET' });
    // LIVEKIT_URL: the one the workers use.
    const lk = (runnerContainer.env as EnvVar[]).find((e) => e.name === 'LIVEKIT_URL')!;
    expect(lk.valueFrom?.configMapKeyRef).toEqual({ name: 'voice-avatar-worker-config', key: 'LIVEKIT_URL' });
    const workerConfig = baseDocs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'voice-avatar-worker-config');
    const config = loadRunnerConfig({ ...runnerConfig.data, AVATAR_LAUNCH_SECRET: 'placeholder-launch-secret-0123', LIVEKIT_URL: workerConfig.data.LIVEKIT_URL });
    expect(config.port).toBe(runnerContainer.ports.find((p: { name: string }) => p.name === 'launch').containerPort);
  });

  it(`is probed at ${RUNNER_READY_PATH} (ready) and ${RUNNER_HEALTH_PATH} (alive) on its launch port, which the Service and the workers' profile name`, async () => {
    const launch = runnerContainer.ports.find((p: { name: string }) => p.name === 'launch');
    expect(probes(runnerContainer).map((p) => p.probe)).toEqual(expect.arrayContaining(['readinessProbe', 'livenessProbe']));
    for (const p of probes(runnerContainer)) expect(p, p.probe).toMatchObject({ path: p.probe === 'readinessProbe' ? RUNNER_READY_PATH : RUNNER_HEALTH_PATH, port: launch.containerPort });
    expect(runner.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toEqual([{ name: 'launch', port: launch.containerPort, targetPort: 'launch' }]);
    // The workers' selfhosted profile launches at that Service (same namespace) and port.
    expect(workerProfile.adapter).toBe('selfhosted');
    const p = workerProfile as Extract<typeof workerProfile, { adapter: 'selfhosted' }>;
    expect(new URL(p.apiUrl).hostname).toBe(service.metadata.name);
    expect(urlPort(p.apiUrl)).toBe(service.spec.ports[0].port);
    expect(p.waitPlaybackStart).toBe(true);
    expect(p.fallback.length).toBeGreaterThan(0);
    for (const f of p.fallback) expect(existsSync(join('avatars', f, 'avatar.json')), f).toBe(true);
    // The face the runner renders is one it can render itself (builtin), from the image's avatars/.
    expect((await loadAvatarProfile('avatars', runnerConfig.data.AVATAR)).adapter).toBe('builtin');
  });

  it('puts the runner on a GPU node holding nvidia.com/gpu, non-root and read-only like the rest', () => {
    const gpu = patches.find((d) => d.kind === 'Deployment' && d.metadata.name === runner.metadata.name);
    expect(gpu).toBeDefined();
    const container = gpu.spec.template.spec.containers.find((c: { name: string }) => c.name === runnerContainer.name);
    expect(Number(container.resources.limits['nvidia.com/gpu'])).toBeGreaterThanOrEqual(1);
    expect(Object.keys(gpu.spec.template.spec.nodeSelector ?? {}).length).toBeGreaterThan(0);
    expect(gpu.spec.template.spec.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'nvidia.com/gpu' })]));
    expect(runnerPod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUser('runner') });
    expect(runnerContainer.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(runnerContainer.resources.limits.memory).toBeDefined();
  });

  it('switches the workers to the runner profile, mounted where the loader looks for it', () => {
    const cm = patches.find((d) => d.kind === 'ConfigMap');
    const dep = patches.find((d) => d.kind === 'Deployment' && d.metadata.name === 'voice-avatar-worker');
    // The patches target objects of the base.
    for (const d of [cm, dep]) expect(baseDocs.some((b) => b.kind === d.kind && b.metadata.name === d.metadata.name), `${d.kind}/${d.metadata.name}`).toBe(true);
    expect(notOurs(Object.keys(cm.data))).toEqual([]);
    const avatar = cm.data.AVATAR as string;
    const worker = dep.spec.template.spec.containers.find((c: { name: string }) => c.name === 'worker');
    const mount = worker.volumeMounts[0];
    expect(mount.mountPath).toBe(`${lastOf(stageNamed('runtime'), 'WORKDIR')}/${envSchema.shape.AVATARS_DIR.parse(undefined)}/${avatar}`);
    const volume = dep.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.configMap.name).toBe(component.configMapGenerator[0].name);
    expect(profileFile[0]).toBe('avatar.json');
  });

  it.skipIf(!hasKubectl)('builds on the base with kubectl kustomize: the runner holds a GPU, the workers mount the generated profile', () => {
    // A throwaway overlay (kustomize wants relative paths): the base plus this component.
    const overlay = mkdtempSync(join(tmpdir(), 'deploy-k8s-'));
    try {
      writeFileSync(
        join(overlay, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${relative(overlay, resolve(base))}]\ncomponents: [${relative(overlay, resolve(dir))}]\n`,
      );
      const out = parseAllDocuments(execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' })).map((d) => d.toJS() as K8s);
      const get = (kind: string, name: string) => out.find((d) => d.kind === kind && d.metadata.name.startsWith(name));
      const builtRunner = get('Deployment', 'voice-avatar-runner').spec.template.spec;
      expect(builtRunner.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
      expect(builtRunner.containers[0].resources.limits.memory).toBeDefined();
      expect(builtRunner.containers[0].image).toBe(`voice-avatar-runner:${JSON.parse(read('package.json')).version}`);
      expect(builtRunner.nodeSelector).toBeDefined();
      expect(get('ConfigMap', 'voice-avatar-worker-config').data.AVATAR).toBe('runner');
      const builtWorker = get('Deployment', 'voice-avatar-worker').spec.template.spec;
      const generated = get('ConfigMap', 'voice-avatar-worker-avatar-runner');
      expect(builtWorker.volumes.find((v: K8s) => v.configMap).configMap.name).toBe(generated.metadata.name);
      expect(builtWorker.containers[0].volumeMounts.map((m: K8s) => m.mountPath)).toEqual(expect.arrayContaining(['/tmp', '/app/avatars/runner']));
      expect(avatarProfileSchema.parse(JSON.parse(generated.data['avatar.json'])).adapter).toBe('selfhosted');
      expect(builtWorker.containers[0].image).toMatch(/^voice-avatar-worker:/);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });
});
