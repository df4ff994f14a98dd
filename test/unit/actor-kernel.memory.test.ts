import * as MemoryBus from "../../src/transports/memory/bus.js"
import { actorKernelContract } from "../support/contracts/actor-kernel.js"

actorKernelContract("in-process bus", MemoryBus.layer)
