import { serverWithClient } from "../support/nats.js"
import { actorKernelContract } from "../support/contracts/actor-kernel.js"

actorKernelContract("NATS bus (real nats-server)", serverWithClient)
