// Checks what the published packages promise, after `npm run build`: every `exports` entry and
// `bin` of packages/* resolves to a file, every runtime entry loads, and no declaration file
// exposes a member marked `@internal` (internals must stay out of the public types, so that
// changing them never breaks a user). Usage: node scripts/check-packages.mjs
import console from 'node:console'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { URL, fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const problems = []

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else yield path
  }
}

for (const name of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', name)
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
    for (const [condition, target] of Object.entries(conditions)) {
      const file = join(dir, target)
      if (!existsSync(file)) {
        problems.push(`${manifest.name} exports["${subpath}"].${condition}: ${target} is missing`)
      } else if (condition === 'default') {
        try {
          await import(pathToFileURL(file).href)
        } catch (err) {
          problems.push(`${manifest.name} exports["${subpath}"] does not load: ${err.message}`)
        }
      }
    }
  }
  for (const [bin, target] of Object.entries(manifest.bin ?? {})) {
    if (!existsSync(join(dir, target)))
      problems.push(`${manifest.name} bin ${bin}: ${target} is missing`)
  }
  const dist = join(dir, 'dist')
  if (!existsSync(dist)) {
    problems.push(`${manifest.name}: no dist/ (run npm run build first)`)
    continue
  }
  for (const file of files(dist)) {
    if (!file.endsWith('.d.ts')) continue
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.includes('@internal')) {
          problems.push(`${file.slice(root.length)}:${i + 1}: @internal in a published declaration`)
        }
      })
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  process.exit(1)
}
console.log('packages: every export resolves and loads; no @internal in the declarations')
