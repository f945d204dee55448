#!/usr/bin/env node
// The `seqline` command. This file is committed (the CLI itself is compiled to dist/), so that
// `npm install` / `npm ci` link `node_modules/.bin/seqline` in a fresh clone, before any build:
// a bin whose target does not exist at install time is not linked, and `npx seqline` would then
// look for a package of that name on the public registry instead.
import { existsSync } from 'node:fs'
import process from 'node:process'
import { URL, fileURLToPath } from 'node:url'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write(
    `seqline: the server is not built (${fileURLToPath(cli)} is missing): run "npm run build" first\n`,
  )
  process.exit(1)
}
await import(cli.href)
