// What the Kafka wrappers share: which client speaks for the producer, and its identity headers for one send.
import type { KafkaHeaders } from "./client.js";
import { type ClientSource, resolveClient } from "./process-client.js";

export interface InstrumentOptions {
  /** The client whose identity the headers carry: a Client, or a function returning one. Default: the process-wide client at send time. */
  readonly client?: ClientSource;
}

/**
 * The identity headers for one send, or undefined while the client is off, killed or shut down (then the records
 * go out exactly as given). Never throws: a wrapper must not be the reason a produce fails.
 */
export function identityHeaders(options: InstrumentOptions | undefined): KafkaHeaders | undefined {
  try {
    const client = resolveClient(options?.client);
    if (!client.accepting) return undefined;
    const headers = client.kafkaHeaders();
    return Object.keys(headers).length > 0 ? headers : undefined;
  } catch {
    return undefined;
  }
}
