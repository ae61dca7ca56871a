import type { LatencyMessage } from './latency-feed';
import { STAGE_LABELS, turnTimeline } from './timeline';

export interface LatencyPanelProps {
  /** Newest first. Empty: the worker publishes no timings, and the panel is not shown at all. */
  turns: readonly LatencyMessage[];
}

/**
 * How long each reply took, stage by stage, against the budget: end of speech → transcript →
 * first LLM token → first TTS audio → first avatar frame.
 */
export function LatencyPanel({ turns }: LatencyPanelProps) {
  if (turns.length === 0) return null;
  return (
    <details className="latency" open data-testid="latency-panel">
      <summary>Latency</summary>
      <ol className="latency-turns">
        {turns.map((turn) => (
          <TurnRow key={`${turn.endOfSpeechAt}-${turn.turn}`} turn={turn} />
        ))}
      </ol>
    </details>
  );
}

function TurnRow({ turn }: { turn: LatencyMessage }) {
  const { segments, scaleMs } = turnTimeline(turn);
  const pct = (ms: number) => `${(100 * ms) / scaleMs}%`;
  const verdict = turn.overBudget ? `${turn.totalMs - turn.budgetMs} ms over the ${turn.budgetMs} ms budget` : `within the ${turn.budgetMs} ms budget`;
  return (
    <li className="latency-turn" data-over={turn.overBudget}>
      <p className="latency-summary">
        <span>Turn {turn.turn}</span> <strong>{turn.totalMs} ms</strong> <span>{verdict}</span>
      </p>
      <div className="latency-bar" role="img" aria-label={`Turn ${turn.turn}: ${segments.map((s) => `${STAGE_LABELS[s.stage]} at ${s.startMs + s.ms} ms`).join(', ')}`}>
        {segments.map((s) => (
          <span
            key={s.stage}
            className="latency-segment"
            data-stage={s.stage}
            title={`${s.stage}: ${s.ms} ms (${s.span})`}
            style={{ left: pct(s.startMs), width: pct(s.ms) }}
          />
        ))}
        <span className="latency-budget" style={{ left: pct(turn.budgetMs) }} title={`budget ${turn.budgetMs} ms`} />
      </div>
      <ul className="latency-legend">
        {segments.map((s) => (
          <li key={s.stage} data-stage={s.stage}>
            <span className="latency-swatch" data-stage={s.stage} />
            {STAGE_LABELS[s.stage]} <strong>{s.startMs + s.ms} ms</strong>
            <span className="latency-delta"> (+{s.ms})</span>
          </li>
        ))}
      </ul>
    </li>
  );
}
