import { useState, type FormEvent } from 'react';
import type { Problem } from './connection/start-problem';

export interface WelcomeProps {
  onStart: () => void;
  problem?: Problem | undefined;
  /** The endpoint wants a shared key: show a field for it. */
  askForKey: boolean;
  onKey: (key: string) => void;
}

export function Welcome({ onStart, problem, askForKey, onKey }: WelcomeProps) {
  const [key, setKey] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) onKey(key.trim());
  };
  return (
    <section className="welcome" aria-labelledby="welcome-title">
      <h1 id="welcome-title">Talk to the avatar</h1>
      <p className="welcome-lead">Start a voice conversation. Your browser will ask to use the microphone.</p>
      {problem && (
        <p className="problem" role="alert" data-kind={problem.kind}>
          {problem.message}
        </p>
      )}
      {askForKey ? (
        <form className="access-key" onSubmit={submit}>
          <label htmlFor="access-key">Access key</label>
          <input id="access-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} />
          <button type="submit" className="button">
            Use key
          </button>
        </form>
      ) : (
        <button type="button" className="button button-start" onClick={onStart}>
          {problem ? 'Try again' : 'Start conversation'}
        </button>
      )}
    </section>
  );
}
