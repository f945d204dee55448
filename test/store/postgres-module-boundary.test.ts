import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The PostgreSQL store and the PostgreSQL bus share one module, packages/server/src/postgres/
// (connection specs, identifier quoting, pools, the commit announcement). Neither imports the
// other, and the shared module imports neither, so that no import cycle can come back.

const SRC = fileURLToPath(new URL('../../packages/server/src/', import.meta.url))

/** Every relative module specifier imported or re-exported by the files of `folder`. */
async function importsOf(folder: string): Promise<{ file: string; specifier: string }[]> {
  const found: { file: string; specifier: string }[] = []
  for (const name of await readdir(join(SRC, folder))) {
    if (!name.endsWith('.ts')) continue
    const text = await readFile(join(SRC, folder, name), 'utf8')
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']*)'/g)) {
      found.push({ file: `${folder}/${name}`, specifier: match[1] ?? '' })
    }
  }
  return found
}

function into(imports: { file: string; specifier: string }[], folder: string): string[] {
  return imports
    .filter((i) => i.specifier.startsWith(`../${folder}/`))
    .map((i) => `${i.file} imports ${i.specifier}`)
}

describe('the postgres module boundary', () => {
  it('keeps store/ from importing bus/', async () => {
    expect(into(await importsOf('store'), 'bus')).toEqual([])
  })

  it('keeps bus/ from importing store/', async () => {
    expect(into(await importsOf('bus'), 'store')).toEqual([])
  })

  it('keeps postgres/ free of store/, bus/ and engine/ imports', async () => {
    const imports = await importsOf('postgres')
    expect(imports.length).toBeGreaterThan(0)
    expect(imports.filter((i) => i.specifier.startsWith('../'))).toEqual([])
  })

  it('has store/ and bus/ share the connection spec parsing of postgres/', async () => {
    const store = await importsOf('store')
    const bus = await importsOf('bus')
    const spec = '../postgres/postgres-spec.js'
    expect(store.some((i) => i.specifier === spec)).toBe(true)
    expect(bus.some((i) => i.specifier === spec)).toBe(true)
  })
})
