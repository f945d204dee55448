/** One server-sent event: its `id` (if any) and its `data` lines joined by `\n`. */
export interface ServerSentEvent {
  readonly id: string | undefined
  readonly data: string
}

/**
 * Incremental `text/event-stream` parser (WHATWG HTML §9.2.6) for the fields the HTTP session uses:
 * `id` and `data`; comments (`: open`, `: ka`) and other fields are skipped. Feed it decoded text as
 * it arrives; an event is returned once its blank line has arrived, so an event cut in the middle by
 * a dropped connection is never returned.
 */
export class EventStreamParser {
  #buffer = ''
  #id: string | undefined
  #data: string[] = []

  /** Feeds the next piece of the stream; returns the events it completed. */
  push(text: string): ServerSentEvent[] {
    this.#buffer += text
    const events: ServerSentEvent[] = []
    let end: number
    while ((end = this.#buffer.indexOf('\n')) >= 0) {
      let line = this.#buffer.slice(0, end)
      this.#buffer = this.#buffer.slice(end + 1)
      if (line.endsWith('\r')) line = line.slice(0, -1)
      if (line === '') {
        if (this.#data.length > 0) events.push({ id: this.#id, data: this.#data.join('\n') })
        this.#id = undefined
        this.#data = []
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'id') this.#id = value
      else if (field === 'data') this.#data.push(value)
    }
    return events
  }
}
