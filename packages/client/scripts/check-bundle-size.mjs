// Bundles src/index.ts for the browser (minified, `ws` and node built-ins left out: browsers use the
// global WebSocket and never load FileStorage's `node:fs`) and fails if it exceeds the budget
// gzipped. Usage: node packages/client/scripts/check-bundle-size.mjs [--budget-kb 12]
import console from 'node:console'
import process from 'node:process'
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { URL, fileURLToPath } from 'node:url'

const budgetArg = process.argv.indexOf('--budget-kb')
const budgetKb = budgetArg >= 0 ? Number(process.argv[budgetArg + 1]) : 12
const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url))

const result = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  conditions: ['source'],
  external: ['ws', 'node:*'],
  write: false,
  metafile: true,
})
const code = result.outputFiles[0].contents
const gzipped = gzipSync(code, { level: 9 }).length
const kb = (n) => (n / 1024).toFixed(2)
console.log(`@seqline/client browser bundle: ${kb(code.length)} KB min, ${kb(gzipped)} KB min+gzip`)
if (gzipped > budgetKb * 1024) {
  const inputs = Object.entries(result.metafile.outputs)[0][1].inputs
  const top = Object.entries(inputs)
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
    .slice(0, 10)
  for (const [file, info] of top)
    console.log(`  ${String(info.bytesInOutput).padStart(7)}  ${file}`)
  console.error(`over budget: ${kb(gzipped)} KB > ${budgetKb} KB`)
  process.exit(1)
}
