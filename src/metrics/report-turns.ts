import type { Logger } from 'pino';
import type { JobReporter } from './job-reporter.js';
import { checkBudget, formatBudgetWarning } from './latency-budget.js';
import { encodeLatencyMessage, LATENCY_TOPIC, toLatencyMessage } from './latency-message.js';
import { formatTurnLine } from './turn-log.js';
import type { TurnTimeline, TurnTimings } from './turn-timeline.js';

/** Sends one packet into the room; the agent passes `room.localParticipant.publishData`. */
export type PublishData = (data: Uint8Array, options: { topic: string; reliable: boolean }) => Promise<void>;

/**
 * Everything the job does with a finished turn: the log line, a warning naming the slowest stage
 * when the turn went over budget, the turn to the main process's /metrics, and the latency
 * message into the room. None of them may throw into the conversation.
 */
export function reportTurns(
  timeline: TurnTimeline,
  opts: { logger: Pick<Logger, 'info' | 'warn' | 'debug'>; budgetMs: number; reporter?: JobReporter; publish?: PublishData },
): void {
  let seq = 0;
  timeline.on('turn', (turn: TurnTimings) => {
    seq++;
    const verdict = checkBudget(turn, opts.budgetMs);
    opts.logger.info({ turn }, formatTurnLine(turn, opts.budgetMs));
    if (verdict.over) opts.logger.warn({ turn, slowestStage: verdict.slowest?.stage, slowestMs: verdict.slowest?.ms }, formatBudgetWarning(verdict));
    opts.reporter?.turn(turn, opts.budgetMs);
    if (opts.publish) {
      let data: Uint8Array;
      try {
        data = encodeLatencyMessage(toLatencyMessage(turn, seq, opts.budgetMs));
      } catch (err) {
        opts.logger.debug({ err }, 'latency message not built');
        return;
      }
      opts.publish(data, { topic: LATENCY_TOPIC, reliable: true }).catch((err: unknown) => opts.logger.debug({ err }, 'latency message not published'));
    }
  });
}
