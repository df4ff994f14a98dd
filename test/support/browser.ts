/**
 * Debian's chromium, driven by playwright-core: headless, fake camera and
 * microphone, certificates of the test's development CA accepted. Closed
 * (its process with it) when the scope ends. A missing chromium fails the
 * test with what to install; it never skips.
 */
import { existsSync } from "node:fs"
import { mkdir } from "node:fs/promises"
import { Effect } from "effect"
import type { Browser, BrowserContext } from "playwright-core"
import { chromium } from "playwright-core"

const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"]

export const chromiumPath = (): string => {
  const found = candidates.find((p): p is string => p !== undefined && p !== "" && existsSync(p))
  if (found === undefined) throw new Error("chromium not found: apt-get install chromium (or set CHROMIUM_PATH)")
  return found
}

/** Where tests leave screenshots (gitignored; CI keeps them as artifacts). */
export const artifacts = async (name: string): Promise<string> => {
  await mkdir("test-artifacts", { recursive: true })
  return `test-artifacts/${name}`
}

/** A browser and one context for the life of the scope. */
export const launch = Effect.acquireRelease(
  Effect.tryPromise(async () => {
    const browser: Browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: [
        "--no-sandbox", // CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        // The tunnels' certificates come from the test's CA, which chromium does not know.
        "--ignore-certificate-errors",
      ],
    })
    const context: BrowserContext = await browser.newContext({ ignoreHTTPSErrors: true, permissions: ["camera", "microphone"] })
    return { browser, context }
  }),
  ({ browser }) => Effect.promise(() => browser.close()),
)
