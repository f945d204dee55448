// Bundles src/index.ts for the browser (minified, `ws` and node built-ins left out: browsers use the
// global WebSocket and never load FileStorage's `node:fs`) and fails if the main chunk exceeds the
// budget gzipped. Code loaded with `import()` (the HTTP transport, fetched only when a client uses
// `transport: 'http'` or falls back to it) is split into its own chunk, as an app's bundler does,
// and reported beside it. Code shared by both lands in a chunk the main one imports statically:
// it loads at start, so it counts as main. Usage: node packages/client/scripts/check-bundle-size.mjs
// [--budget-kb 12]
import console from 'node:console'
import { Buffer } from 'node:buffer'
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
const gzip = (contents) => gzipSync(contents, { level: 9 }).length
const name = (path) => path.split('/').pop()
const main = result.outputFiles.find((file) => file.path.endsWith('index.js'))
// The chunks the main one imports statically, transitively: they load with it.
const eager = new Set()
const visit = (path) => {
  for (const { path: imported, kind } of result.metafile.outputs[path]?.imports ?? []) {
    if (kind === 'import-statement' && !eager.has(name(imported))) {
      eager.add(name(imported))
      visit(imported)
    }
  }
}
visit(Object.keys(result.metafile.outputs).find((path) => path.endsWith('index.js')))
const start = [main, ...result.outputFiles.filter((file) => eager.has(name(file.path)))]
const startBytes = Buffer.concat(start.map((file) => file.contents))
const gzipped = gzip(startBytes)
console.log(
  `@seqline/client browser bundle: ${kb(startBytes.length)} KB min, ${kb(gzipped)} KB min+gzip` +
    (start.length > 1
      ? ` (index.js + ${start
          .slice(1)
          .map((f) => name(f.path))
          .join(', ')})`
      : ''),
)
for (const file of result.outputFiles) {
  if (start.includes(file)) continue
  console.log(
    `  lazy chunk ${name(file.path)}: ${kb(file.contents.length)} KB min, ${kb(gzip(file.contents))} KB min+gzip`,
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
