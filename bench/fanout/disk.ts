// bench/fanout/disk — the disk's own fdatasync tail, with no server: what a durable fan-out pays
// that a broadcast without storage never does. It does what the SQLite store's WAL does under the
// fan-out load — overwrite a few pages of a 4 MB file that stays the same size, `--rate` times a
// second for `--seconds`, in the directory the benchmarks put their databases in (the OS temp dir,
// or `--dir`) — and reports how long each write waited to be on disk (write → its fdatasync
// returned, on libuv's thread pool).
//
// Syncs as the store makes them, with its own WalSync (packages/server/src/store/wal-sync.ts): one
// at a time, and the writes made while one runs share the next one. `--overlap` starts a sync for
// every write at once instead (up to the thread pool's size in flight): run both side by side, in
// two shells, to see whether overlapping syncs would shorten the stalls.
//
//   npx tsx bench/fanout/disk.ts [--rate 125] [--seconds 60] [--kb 56] [--dir <dir>] [--overlap]
import { closeSync, fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { distributionOf } from '../support/distribution.js'
import { WalSync } from '../../packages/server/src/store/wal-sync.js'
import { machine, machineLine } from '../support/machine.js'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '125' },
    seconds: { type: 'string', default: '60' },
    kb: { type: 'string', default: '56' },
    dir: { type: 'string', default: tmpdir() },
    overlap: { type: 'boolean', default: false },
  },
})
const FILE_BYTES = 4 << 20
const chunk = Buffer.alloc(Number(values.kb) * 1024, 0x5a)
const interval = 1000 / Number(values.rate)
const dir = mkdtempSync(join(values.dir, 'seqline-disk-'))
const path = join(dir, 'wal')
const fd = openSync(path, 'w+')
// Preallocated, like a WAL after its first cycle: overwrites change no file size.
for (let at = 0; at < FILE_BYTES; at += chunk.length) writeSync(fd, chunk, 0, chunk.length, at)
await sync()

const walSync = new WalSync(path)

const m = machine()
const waits: number[] = []
const pending: Promise<void>[] = []
const until = performance.now() + Number(values.seconds) * 1000
let position = 0
let next = performance.now()
while (performance.now() < until) {
  writeSync(fd, chunk, 0, chunk.length, position)
  position = (position + chunk.length) % (FILE_BYTES - chunk.length)
  walSync.wrote()
  const start = performance.now()
  pending.push(
    (values.overlap ? sync() : walSync.durable()).then(() => {
      waits.push(performance.now() - start)
    }),
  )
  next += interval
  await sleep(Math.max(0, next - performance.now()))
}
await Promise.all(pending)
await walSync.close()
closeSync(fd)
rmSync(dir, { recursive: true, force: true })
m.loadAfter = loadavg()[0]

const d = distributionOf(waits)
const sorted = [...waits].sort((a, b) => a - b)
const over = (ms: number): number => waits.filter((v) => v > ms).length
console.log(
  `bench/fanout/disk — ${values.kb} KB overwritten ${values.rate}/s for ${values.seconds} s in ${values.dir}, ` +
    `${values.overlap ? 'a sync per write, overlapping' : 'one sync at a time'}; ${machineLine(m)}\n` +
    `write → on disk (ms): p50 ${d.p50.toFixed(2)}, p90 ${d.p90.toFixed(2)}, p99 ${d.p99.toFixed(2)}, ` +
    `p99.9 ${sorted[Math.floor(0.999 * sorted.length)]!.toFixed(2)}, max ${d.max.toFixed(2)} over ${d.count} writes; ` +
    `above 5 / 10 / 20 ms: ${over(5)} / ${over(10)} / ${over(20)}`,
)

function sync(): Promise<void> {
  return new Promise((resolve, reject) => {
    fdatasync(fd, (error) => (error === null ? resolve() : reject(error)))
  })
}
