#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { runDoctor } from './doctor.js';

// `npm run doctor`. A .env in the working directory, as for the worker; the environment wins.
if (existsSync('.env')) process.loadEnvFile('.env');
runDoctor().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
