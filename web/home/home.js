// @ts-check
/** The landing page: create a meeting (then join it), or join one by its id. */

const $ = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id))

$("create").addEventListener("submit", async (e) => {
  e.preventDefault()
  const problem = $("problem")
  problem.hidden = true
  try {
    const topic = $("topic").value.trim()
    const response = await fetch("/api/meetings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...(topic !== "" ? { topic } : {}), ...($("end-to-end").checked ? { endToEnd: true } : {}) }),
    })
    const body = await response.json().catch(() => undefined)
    if (!response.ok) throw new Error(body?.error?.message ?? `the web lookup answered ${response.status}`)
    location.assign(`/j/${encodeURIComponent(body.id)}`)
  } catch (error) {
    problem.textContent = `Could not create a meeting: ${error instanceof Error ? error.message : error}`
    problem.hidden = false
  }
})

$("join").addEventListener("submit", (e) => {
  e.preventDefault()
  location.assign(`/j/${encodeURIComponent($("meeting").value.trim())}`)
})
export {}
