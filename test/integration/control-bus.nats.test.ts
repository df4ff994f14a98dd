import { serverWithClient } from "../support/nats.js"
import { controlBusContract } from "../support/contracts/control-bus.js"

controlBusContract("NATS (real nats-server)", serverWithClient)
