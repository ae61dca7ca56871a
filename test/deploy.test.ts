/**
 * Static checks of the deployment files (no Docker engine or cluster needed): Compose, the
 * Dockerfile and the kustomize base agree with each other, with livekit.yaml, with the env
 * schema, and with what the build produces.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { envSchema } from '../src/config/env.js';

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

  it('has a HEALTHCHECK on the agents health endpoint (port 8081, /) and exposes it', () => {
    const hc = lastOf(runtimeIns, 'HEALTHCHECK');
    expect(hc).toMatch(/http:\/\/127\.0\.0\.1:8081\//);
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

// --- Compose -------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const compose = yamlFile('docker-compose.yml');
  const services = compose.services as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const livekit = yamlFile('livekit.yaml');

  it('parses, with the services and profiles the README describes', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['livekit-server', 'worker', 'redis', 'livekit-server-b', 'ollama', 'speaches', 'kokoro', 'models']));
    expect(services['livekit-server'].profiles).toBeUndefined();
    expect(services.worker.profiles).toBeUndefined();
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

  it("builds the worker from an existing Dockerfile and target", () => {
    const build = services.worker.build;
    const dockerfile = join(build.context, build.dockerfile);
    expect(existsSync(dockerfile)).toBe(true);
    expect(parseDockerfile(read(dockerfile)).stages.map((s) => s.name)).toContain(build.target);
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
    for (const f of ['deploy/compose/selfhosted.env', 'deploy/compose/multinode.env']) {
      const env = envFile(f);
      expect(env.COMPOSE_PROFILES, f).toBeDefined();
      for (const k of Object.keys(env).filter((k) => !k.startsWith('COMPOSE_'))) expect(used, `${f}: ${k}`).toContain(k);
      for (const p of env.COMPOSE_PROFILES!.split(',')) {
        expect(Object.values(services).some((s) => (s.profiles ?? []).includes(p)), `${f}: profile ${p}`).toBe(true);
      }
    }
    expect(envFile('deploy/compose/selfhosted.env').WORKER_PROVIDERS_ENV).toBe('deploy/compose/worker.selfhosted.env');
    // Every ${VAR} is either defaulted or set by one of those files.
    for (const m of text.matchAll(/\$\{([A-Z0-9_]+)(:?-)?[^}]*\}/g)) expect(m[2], `\${${m[1]}} without a default`).toBeDefined();
    // The worker's overlay path resolves to an existing file in both cases.
    expect(existsSync('deploy/compose/worker.none.env')).toBe(true);
  });

  it('leaves the web service as a commented placeholder, not a fake', () => {
    expect(services.web).toBeUndefined();
    expect(read('docker-compose.yml')).toMatch(/#\s*TODO\(web issue\)/);
  });
});

// --- Kubernetes ------------------------------------------------------------------------------------

describe('deploy/k8s (kustomize)', () => {
  const dir = 'deploy/k8s';
  const kustomization = yamlFile(join(dir, 'kustomization.yaml'));
  const docs = (kustomization.resources as string[]).flatMap((r) => parseAllDocuments(read(join(dir, r))).map((d) => d.toJS()));
  const byKind = (kind: string) => docs.filter((d) => d?.kind === kind);
  const deployment = byKind('Deployment')[0];
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === 'worker');
  const configMap = byKind('ConfigMap')[0];
  const secretTemplate = yamlFile(join(dir, 'secret.template.yaml'));

  it('lists only resources that exist, and they parse', () => {
    for (const r of kustomization.resources as string[]) expect(existsSync(join(dir, r)), r).toBe(true);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);
    for (const img of kustomization.images) expect(String(img.newTag)).toMatch(/^\d+\.\d+\.\d+/);
    expect(String(kustomization.images[0].newTag)).toBe(JSON.parse(read('package.json')).version);
  });

  it('points every probe at the container health port (8081, path /)', () => {
    const health = container.ports.find((p: { name: string }) => p.name === 'health');
    expect(health.containerPort).toBe(8081);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const get = container[probe]?.httpGet;
      expect(get, probe).toBeDefined();
      expect(get.path, probe).toBe('/');
      expect([health.name, health.containerPort], probe).toContain(get.port);
    }
  });

  it('keeps terminationGracePeriodSeconds above the drain timeout plus shutdown', () => {
    const drainS = Number(configMap.data.DRAIN_TIMEOUT_MS) / 1000;
    expect(drainS).toBeGreaterThan(0);
    // After the drain, the framework gives each remaining job up to 60 s (shutdownProcessTimeout).
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainS + 60);
    expect(deployment.spec.strategy.rollingUpdate).toMatchObject({ maxUnavailable: 0 });
  });

  it('sets only variables of our schema or the agents framework, and no secret in the ConfigMap', () => {
    expect(notOurs(Object.keys(configMap.data))).toEqual([]);
    expect(notOurs(Object.keys(secretTemplate.stringData))).toEqual([]);
    expect(notOurs((container.env ?? []).map((e: { name: string }) => e.name))).toEqual([]);
    const secrets = ['LIVEKIT_API_SECRET', 'STT_API_KEY', 'DEEPGRAM_API_KEY', 'LLM_API_KEY', 'OPENAI_API_KEY', 'TTS_API_KEY', 'ELEVENLABS_API_KEY'];
    expect(Object.keys(configMap.data).filter((k) => secrets.includes(k))).toEqual([]);
    // A template: no real values.
    expect(Object.values(secretTemplate.stringData).every((v) => v === '')).toBe(true);
    const refs = container.envFrom.map((e: { configMapRef?: { name: string }; secretRef?: { name: string } }) => e.configMapRef?.name ?? e.secretRef?.name);
    expect(refs).toEqual([configMap.metadata.name, secretTemplate.metadata.name]);
  });

  it('exposes /metrics on the METRICS_PORT the ConfigMap sets', () => {
    const port = Number(configMap.data.METRICS_PORT);
    expect(container.ports.find((p: { name: string }) => p.name === 'metrics').containerPort).toBe(port);
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(port));
  });

  it('runs as the image user, non-root, with /tmp writable under a read-only root', () => {
    const user = lastOf(effective(parseDockerfile(read('deploy/Dockerfile')).stages, parseDockerfile(read('deploy/Dockerfile')).stages.at(-1)!), 'USER')!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user.split(':')[0]) });
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain('/tmp');
  });

  it('HPA, PDB and Deployment select the same pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(labels).toMatchObject(byKind('PodDisruptionBudget')[0].spec.selector.matchLabels);
    expect(byKind('HorizontalPodAutoscaler')[0].spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(deployment.spec.replicas).toBeUndefined();
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it.skipIf(spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0)('builds with kubectl kustomize', () => {
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    expect(out).toContain('image: voice-avatar-worker:0.1.0');
  });

  it('leaves the web and GPU variants as marked TODOs, not fakes', () => {
    const text = read(join(dir, 'kustomization.yaml'));
    expect(text).toMatch(/TODO\(web issue\)/);
    expect(text).toMatch(/TODO\(avatar-runner issue\)/);
    expect(docs.filter((d) => /web|gpu|runner/i.test(d.metadata.name))).toEqual([]);
  });
});
