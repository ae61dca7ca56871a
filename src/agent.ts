import { defineAgent, voice, type JobContext, type JobProcess, type VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { prewarmAvatar } from './avatar/prewarm.js';
import { attachAvatar, rendersLocally } from './avatar/registry.js';
import { loadConfig } from './config/config.js';
import { createLogger } from './logging.js';
import { startJobCpuProfile } from './metrics/job-cpu-profile.js';
import { describeGrowth, samplingFromEnv, watchJobMemory } from './metrics/job-memory.js';
import { connectJobReporter } from './metrics/job-reporter.js';
import { reportAvatarFrames } from './metrics/avatar-frame-reporter.js';
import { observeTurns } from './metrics/observe-turns.js';
import { reportTurns } from './metrics/report-turns.js';
import { TurnTimeline } from './metrics/turn-timeline.js';
import { describePipelineError } from './pipeline/describe-error.js';
import { acceptPreConnectAudio } from './pipeline/pre-connect/index.js';
import { buildSession, ConversationAgent, roomInputOptions, vadOptions } from './pipeline/session.js';
import { startTracing } from './telemetry/tracing.js';

/**
 * The job: one conversation in one room. LiveKit dispatches it; the agents framework runs it in
 * its own process, after prewarm has loaded the VAD there.
 */
export default defineAgent({
  prewarm: async (proc: JobProcess) => {
    // The preset's end-of-speech silence (tuned: VAD_MIN_SILENCE_MS; stock: Silero's default).
    proc.userData.vad = await silero.VAD.load(vadOptions(loadConfig()));
    // The built-in face's sprites before the call, not while the user waits for the agent (seconds
    // on a busy core). Not awaited: prewarm counts against the process's initialisation timeout,
    // and a process forked for a job already waiting gains nothing from drawing it earlier. A
    // failure here is the call's to report (attachAvatar), not prewarm's.
    setImmediate(() => void prewarmAvatar(loadConfig().avatar).catch(() => undefined));
  },
  entry: async (ctx: JobContext) => {
    const config = loadConfig();
    const logger = createLogger({ level: config.logLevel, secrets: config.secrets, format: config.logFormat }).child({ jobId: ctx.job.id, room: ctx.job.room?.name });
    // Bench only (VOICE_AVATAR_CPU_PROFILE_DIR): this job's CPU profile, written when it ends.
    const writeCpuProfile = await startJobCpuProfile();
    if (writeCpuProfile) ctx.addShutdownCallback(async () => void logger.info({ file: await writeCpuProfile() }, 'job CPU profile written'));
    if (config.tracing) {
      const tracing = startTracing({ ...config.tracing, attributes: { room_name: ctx.job.room?.name ?? '', job_id: ctx.job.id } });
      ctx.addShutdownCallback(() => tracing.shutdown());
    }
    // What the user said before the agent joined (livekit-client's pre-connect buffer) is sent as
    // soon as the page sees the agent: listen for it before connecting.
    const preConnect = acceptPreConnectAudio(ctx.room, logger);
    ctx.addShutdownCallback(async () => preConnect.close());
    await ctx.connect();
    // This job's turns and fallbacks go to the main process's /metrics (a no-op without one).
    const reporter = connectJobReporter(ctx.job.id, { onError: (err) => logger.debug({ err }, 'metrics hub unreachable; this job reports no metrics') });
    ctx.addShutdownCallback(() => reporter.close());
    // This call's memory per conversation in /metrics, and a warning naming the slope if it grows:
    // a call that keeps what it has processed grows with its length (issue 16).
    const bound = config.ops.jobMemoryGrowthWarnMBPerHour;
    const stopMemory = watchJobMemory({
      report: (m) => reporter.memory(m),
      warnMbPerHour: bound,
      warn: (growth, area) => logger.warn({ memoryGrowthMbPerHour: growth }, describeGrowth(growth, area, bound)),
      ...samplingFromEnv(),
    });
    ctx.addShutdownCallback(async () => stopMemory());

    const session = buildSession(config, ctx.proc.userData.vad as VAD);
    preConnect.attach(session);
    const timeline = new TurnTimeline();
    const avatar = await attachAvatar(
      {
        session,
        room: ctx.room,
        logger,
        keys: config.avatar.keys,
        // The server this job was dispatched from (its URL may differ from LIVEKIT_URL behind a proxy).
        livekit: {
          url: ctx.info.url || config.livekit.url,
          apiKey: ctx.info.apiKey ?? config.livekit.apiKey,
          apiSecret: ctx.info.apiSecret ?? config.livekit.apiSecret,
          ...(config.livekit.publicUrl ? { publicUrl: config.livekit.publicUrl } : {}),
        },
      },
      config.avatar.dir,
      config.avatar.name,
    );
    ctx.addShutdownCallback(() => avatar.close());
    for (const f of avatar.fallbacks) reporter.avatarFallback(f.profile, f.reason);
    reporter.avatar(avatar.handle.profile.adapter, rendersLocally(avatar.handle.profile.adapter), avatar.attachMs);
    avatar.onFallback((f, now) => {
      reporter.avatarFallback(f.profile, f.reason);
      reporter.avatar(now.profile.adapter, rendersLocally(now.profile.adapter), avatar.attachMs);
    });

    const stopFrameReports = reportAvatarFrames(avatar, reporter);
    ctx.addShutdownCallback(async () => stopFrameReports());

    observeTurns(session, timeline, avatar.timings);
    // Per turn: log line, over-budget warning naming the slowest stage, /metrics, `avatar.latency` data message.
    reportTurns(timeline, {
      logger,
      budgetMs: config.ops.latencyBudgetMs,
      reporter,
      publish: async (data, opts) => ctx.room.localParticipant?.publishData(data, opts),
    });
    // The session keeps going (see buildSession); say which stage failed and why.
    session.on(voice.AgentSessionEventTypes.Error, (ev) => logger.error(`${describePipelineError(ev)}; the conversation continues`));

    await session.start({ agent: new ConversationAgent(config, timeline, avatar.handle.tools), room: ctx.room, inputOptions: roomInputOptions(config) });
    if (config.agent.greeting) {
      await ctx.waitForParticipant();
      session.say(config.agent.greeting);
    }
  },
});
