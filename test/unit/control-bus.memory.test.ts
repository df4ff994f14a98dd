import * as MemoryBus from "../../src/transports/memory/bus.js"
import { controlBusContract } from "../support/contracts/control-bus.js"

controlBusContract("in-process", MemoryBus.layer)
