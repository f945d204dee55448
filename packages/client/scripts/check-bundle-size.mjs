// Bundles src/index.ts for the browser (minified, `ws` and node built-ins left out: browsers use the
// global WebSocket and never load FileStorage's `node:fs`) and fails if the main chunk exceeds the
// budget gzipped. Code loaded with `import()` (the HTTP transport, fetched only when a client uses
// `transport: 'http'` or falls back to it) is split into its own chunk, as an app's bundler does,
// and reported beside it. Usage: node packages/client/scripts/check-bundle-size.mjs [--budget-kb 12]
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
  splitting: true,
  outdir: 'out',
  write: false,
  metafile: true,
})
const kb = (n) => (n / 1024).toFixed(2)
const gzip = (file) => gzipSync(file.contents, { level: 9 }).length
const main = result.outputFiles.find((file) => file.path.endsWith('index.js'))
const gzipped = gzip(main)
console.log(
  `@seqline/client browser bundle: ${kb(main.contents.length)} KB min, ${kb(gzipped)} KB min+gzip`,
)
for (const file of result.outputFiles) {
  if (file === main) continue
  console.log(
    `  lazy chunk ${file.path.split('/').pop()}: ${kb(file.contents.length)} KB min, ${kb(gzip(file))} KB min+gzip`,
  )
}
if (gzipped > budgetKb * 1024) {
  const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('index.js'))
  const top = Object.entries(output[1].inputs)
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
    .slice(0, 10)
  for (const [file, info] of top)
    console.log(`  ${String(info.bytesInOutput).padStart(7)}  ${file}`)
  console.error(`over budget: ${kb(gzipped)} KB > ${budgetKb} KB`)
  process.exit(1)
}
