import type { Page } from 'playwright-core'

// Drives the chat demo's UI (apps/chat) in the browser suites, through its labels and test ids.

/** Signs in on the sign-in form and waits until the chat is online. */
export async function signIn(page: Page, name: string): Promise<void> {
  await page.getByLabel('Your name').fill(name)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await waitForConnection(page, 'online')
}

/** Waits for the connection banner to show `state` (online, offline, reconnecting, …). */
export async function waitForConnection(
  page: Page,
  state: string,
  timeout = 15_000,
): Promise<void> {
  await page.locator(`[data-testid=connection][data-state=${state}]`).waitFor({ timeout })
}

/** Opens a conversation by its stream name (the URL hash), e.g. `room:test-1`. */
export async function openConversation(page: Page, stream: string): Promise<void> {
  await page.evaluate((s) => {
    location.hash = encodeURIComponent(s)
  }, stream)
  await page
    .locator(`[data-testid=message-list][data-stream="${stream}"][data-status=live]`)
    .waitFor({ timeout: 15_000 })
}

/** Types a message and presses Enter, as a person would. */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer')
  await box.fill(text)
  await box.press('Enter')
}

/** The open conversation as shown: text and delivery state of each message, top to bottom. */
export async function shownMessages(
  page: Page,
): Promise<{ text: string; delivery: string | null; offset: string | null }[]> {
  return page.getByTestId('message').evaluateAll((items) =>
    items.map((li) => ({
      // The first text node is the message; the delivery mark follows it in its own span.
      text: li.querySelector('[data-testid=message-text]')?.firstChild?.textContent ?? '',
      delivery: li.getAttribute('data-delivery'),
      offset: li.getAttribute('data-offset'),
    })),
  )
}

/** Waits until the open conversation shows exactly `count` committed messages and none pending. */
export async function waitForCommitted(
  page: Page,
  count: number,
  timeout = 30_000,
): Promise<string[]> {
  await page.waitForFunction(
    (n) => {
      const items = Array.from(document.querySelectorAll('[data-testid=message]'))
      return items.length === n && items.every((li) => li.hasAttribute('data-offset'))
    },
    count,
    { timeout, polling: 200 },
  )
  return (await shownMessages(page)).map((m) => m.text)
}

/** The texts of a stream as the server stores them, in offset order (GET /v1/history). */
export async function serverTexts(url: string, stream: string, token: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/history/${encodeURIComponent(stream)}?limit=500`, {
    headers: { authorization: `Bearer ${token}` },
  })
  const body = (await res.json()) as { messages: { data: { text: string } }[] }
  return body.messages.map((m) => m.data.text)
}
