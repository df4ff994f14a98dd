import { serverWithClient } from "../support/nats.js"
import { keyValueContract } from "../support/contracts/key-value.js"

keyValueContract("JetStream KV (real nats-server)", serverWithClient, { raceRuns: 25 })
