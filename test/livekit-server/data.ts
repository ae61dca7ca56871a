/**
 * Data packet routing, as the Go server does it (participant.go handleReceivedDataMessage and
 * room.go's broadcast): the server, not the sender, states who sent a packet, and a packet goes to
 * its destination identities (or, for user packets from old clients, destination sids), or to
 * everyone else in the room when none are given. RPC and data-stream packets are routed like
 * user packets; this is what makes rtc-node's performRpc and streamBytes work between clients.
 */
import { DataPacket, DataPacket_Kind } from '@livekit/protocol';

export const RELIABLE_LABEL = '_reliable';
export const LOSSY_LABEL = '_lossy';

export interface DataSender {
  identity: string;
  sid: string;
  hidden: boolean;
  /** An agent (kind AGENT or the `agent` grant): it may open text streams on another's behalf. */
  agent?: boolean;
}

export interface DataRecipient {
  identity: string;
  sid: string;
}

/** Decodes a packet from a sender's data channel; throws on malformed protobuf. */
export function decodeDataPacket(bytes: Uint8Array): DataPacket {
  return DataPacket.fromBinary(bytes);
}

/**
 * Stamps the sender on `packet` (in place) and returns whether it should be forwarded at all
 * (metrics are for the server; packets without a payload are dropped).
 *
 * As the Go server (since 1.8.2), one exception: an agent may open a text stream in another
 * participant's name (the user's transcription, `senderIdentity`); the header keeps that identity
 * and is marked `generated`. Its chunks and trailer are stamped as usual: clients match them by
 * stream id.
 */
export function stampSender(packet: DataPacket, sender: DataSender, label: string): boolean {
  let identity = sender.hidden ? '' : sender.identity;
  packet.participantSid = sender.sid;
  // Trust the channel it came in on, not the kind the client wrote.
  packet.kind = label === LOSSY_LABEL ? DataPacket_Kind.LOSSY : DataPacket_Kind.RELIABLE;
  const value = packet.value;
  switch (value.case) {
    case undefined:
      return false;
    case 'metrics':
      return false;
    case 'user': {
      value.value.participantSid = sender.hidden ? '' : sender.sid;
      value.value.participantIdentity = identity;
      if (packet.destinationIdentities.length > 0) value.value.destinationIdentities = packet.destinationIdentities;
      else packet.destinationIdentities = value.value.destinationIdentities;
      break;
    }
    case 'streamHeader': {
      const header = value.value.contentHeader;
      if (sender.agent && packet.participantIdentity !== '' && packet.participantIdentity !== sender.identity && header.case === 'textHeader') {
        header.value.generated = true;
        identity = packet.participantIdentity;
      }
      break;
    }
    default:
      break;
  }
  packet.participantIdentity = identity;
  return true;
}

/** Who receives `packet`: its destinations, or everyone but the sender. */
export function recipientsOf<R extends DataRecipient>(packet: DataPacket, sender: DataSender, others: Iterable<R>): R[] {
  const identities = new Set(packet.destinationIdentities);
  const sids = new Set(packet.value.case === 'user' ? packet.value.value.destinationSids : []);
  const everyone = identities.size === 0 && sids.size === 0;
  const out: R[] = [];
  for (const other of others) {
    if (other.sid === sender.sid) continue;
    if (everyone || identities.has(other.identity) || sids.has(other.sid)) out.push(other);
  }
  return out;
}
