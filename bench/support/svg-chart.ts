// A small SVG line-chart writer for benchmark results: panels in a grid, one line per series,
// linear or logarithmic y axis. No dependencies; the output is a standalone .svg file.

/** One line of a panel. Points without a `y` (not measured) break the line. */
export interface ChartSeries {
  readonly name: string
  readonly color: string
  readonly points: readonly {
    readonly x: number
    readonly y: number | undefined
    /** The true value is at least `y` (e.g. a run stopped by its time limit): a hollow marker. */
    readonly lowerBound?: boolean
  }[]
}

export interface ChartPanel {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: readonly ChartSeries[]
  /** Logarithmic y axis, for values that span orders of magnitude. */
  readonly logY?: boolean
}

export interface ChartOptions {
  readonly title: string
  /** A line under the title, e.g. the machine and the conditions. */
  readonly subtitle?: string
  readonly columns?: number
}

const PANEL_W = 460
const PANEL_H = 300
const MARGIN = { left: 64, right: 16, top: 34, bottom: 46 }

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function format(value: number): string {
  if (value === 0) return '0'
  const abs = Math.abs(value)
  if (abs >= 1e6) return `${+(value / 1e6).toPrecision(3)}M`
  if (abs >= 1e3) return `${+(value / 1e3).toPrecision(3)}k`
  return String(+value.toPrecision(3))
}

function linearTicks(max: number): number[] {
  const rough = max / 5
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? power * 10
  const ticks: number[] = []
  for (let t = 0; ticks.at(-1) === undefined || ticks.at(-1)! < max; t += step) ticks.push(t)
  return ticks
}

function panel(p: ChartPanel, ox: number, oy: number): string {
  const w = PANEL_W - MARGIN.left - MARGIN.right
  const h = PANEL_H - MARGIN.top - MARGIN.bottom
  const points = p.series.flatMap((s) => s.points)
  const xs = [...new Set(points.map((pt) => pt.x))].sort((a, b) => a - b)
  const ys = points.map((pt) => pt.y).filter((y): y is number => y !== undefined && y > 0)
  const xMin = xs[0] ?? 0
  const xMax = xs.at(-1) ?? 1
  const x = (v: number): number =>
    ox + MARGIN.left + (xMax === xMin ? w / 2 : ((v - xMin) / (xMax - xMin)) * w)
  let y: (v: number) => number
  let yTicks: number[]
  if (p.logY === true && ys.length > 0) {
    const lo = Math.floor(Math.log10(Math.min(...ys)))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...ys))))
    y = (v) => oy + MARGIN.top + h - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * h
    yTicks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i))
  } else {
    yTicks = linearTicks(Math.max(1e-9, ...ys) * 1.05)
    const top = yTicks.at(-1) ?? 1
    y = (v) => oy + MARGIN.top + h - (v / top) * h
  }
  const out: string[] = []
  out.push(
    `<text x="${ox + MARGIN.left}" y="${oy + 20}" class="title">${escape(p.title)}</text>`,
    `<rect x="${ox + MARGIN.left}" y="${oy + MARGIN.top}" width="${w}" height="${h}" class="frame"/>`,
  )
  for (const t of yTicks) {
    out.push(
      `<line x1="${ox + MARGIN.left}" x2="${ox + MARGIN.left + w}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`,
      `<text x="${ox + MARGIN.left - 6}" y="${y(t) + 4}" class="tick" text-anchor="end">${format(t)}</text>`,
    )
  }
  // Few distinct x values (room sizes) get a tick each; a time series gets round ticks.
  const xTicks = xs.length <= 10 ? xs : linearTicks(xMax).filter((t) => t >= xMin && t <= xMax)
  for (const t of xTicks) {
    out.push(
      `<text x="${x(t)}" y="${oy + MARGIN.top + h + 16}" class="tick" text-anchor="middle">${format(t)}</text>`,
    )
  }
  out.push(
    `<text x="${ox + MARGIN.left + w / 2}" y="${oy + PANEL_H - 8}" class="label" text-anchor="middle">${escape(p.xLabel)}</text>`,
    `<text transform="translate(${ox + 14} ${oy + MARGIN.top + h / 2}) rotate(-90)" class="label" text-anchor="middle">${escape(p.yLabel)}</text>`,
  )
  p.series.forEach((s, i) => {
    const segments: string[][] = [[]]
    for (const pt of [...s.points].sort((a, b) => a.x - b.x)) {
      if (pt.y === undefined || (p.logY === true && pt.y <= 0)) {
        segments.push([])
        continue
      }
      segments.at(-1)!.push(`${x(pt.x).toFixed(1)},${y(pt.y).toFixed(1)}`)
      if (s.points.length <= 40) {
        out.push(
          pt.lowerBound === true
            ? `<circle cx="${x(pt.x).toFixed(1)}" cy="${y(pt.y).toFixed(1)}" r="4" fill="white" stroke="${s.color}" stroke-width="2"/>`
            : `<circle cx="${x(pt.x).toFixed(1)}" cy="${y(pt.y).toFixed(1)}" r="3" fill="${s.color}"/>`,
        )
      }
    }
    for (const segment of segments) {
      if (segment.length > 1) {
        out.push(
          `<polyline points="${segment.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`,
        )
      }
    }
    const lx = ox + MARGIN.left + 8
    const ly = oy + MARGIN.top + 14 + i * 16
    out.push(
      `<rect x="${lx}" y="${ly - 8}" width="12" height="4" fill="${s.color}"/>`,
      `<text x="${lx + 18}" y="${ly - 3}" class="legend">${escape(s.name)}</text>`,
    )
  })
  return out.join('\n')
}

/** Renders `panels` in a grid, `columns` wide, as one SVG document. */
export function svgChart(panels: readonly ChartPanel[], options: ChartOptions): string {
  const columns = options.columns ?? 2
  const rows = Math.ceil(panels.length / columns)
  const header = options.subtitle === undefined ? 36 : 54
  const width = columns * PANEL_W
  const height = header + rows * PANEL_H
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    '<style>.title{font-size:13px;font-weight:bold}.tick{font-size:10px;fill:#444}.label{font-size:11px;fill:#222}.legend{font-size:11px}.grid{stroke:#e4e4e4}.frame{fill:none;stroke:#999}</style>',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(options.title)}</text>`,
    options.subtitle === undefined
      ? ''
      : `<text x="12" y="42" font-size="11" fill="#555">${escape(options.subtitle)}</text>`,
    ...panels.map((p, i) =>
      panel(p, (i % columns) * PANEL_W, header + Math.floor(i / columns) * PANEL_H),
    ),
    '</svg>',
    '',
  ].join('\n')
}
