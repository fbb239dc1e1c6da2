// @ts-check
/**
 * The Jupyter wire protocol (messaging spec 5.x): parsing and signing the multipart ZeroMQ
 * messages the kernel receives and sends.
 *
 *   [routing identities..., "<IDS|MSG>", HMAC signature, header, parent_header, metadata, content,
 *    buffers...]
 *
 * The signature is the HMAC (scheme from the connection file, normally hmac-sha256) of the four
 * JSON frames only; binary buffers are not signed. An empty key means unsigned messages.
 */
"use strict";

const { createHmac, randomUUID, timingSafeEqual } = require("node:crypto");

const DELIMITER = Buffer.from("<IDS|MSG>");

/** The protocol version this kernel speaks (sent in every header and in kernel_info_reply). */
const PROTOCOL_VERSION = "5.3";

/**
 * @typedef {{ msg_id: string, session: string, username: string, date: string, msg_type: string,
 *   version: string }} Header
 * @typedef {{ identities: Buffer[], header: Header, parent: Partial<Header>,
 *   metadata: Record<string, unknown>, content: any, buffers: Buffer[] }} Message
 * @typedef {{ key: string, signature_scheme?: string }} SigningInfo
 */

/**
 * @param {SigningInfo} info
 * @returns {string | null} the node:crypto digest name, or null when messages are unsigned
 */
function digestOf(info) {
  if (!info.key) return null;
  const scheme = info.signature_scheme || "hmac-sha256";
  if (!scheme.startsWith("hmac-")) {
    throw new Error(
      `wire: signature_scheme: expected "hmac-<digest>", got ${JSON.stringify(scheme)}`,
    );
  }
  return scheme.slice("hmac-".length);
}

/**
 * @param {SigningInfo} info
 * @param {Array<Buffer | string>} parts the four JSON frames
 */
function sign(info, parts) {
  const digest = digestOf(info);
  if (digest === null) return "";
  const hmac = createHmac(digest, info.key);
  for (const p of parts) hmac.update(p);
  return hmac.digest("hex");
}

/**
 * Parses one received multipart message and checks its signature.
 * @param {SigningInfo} info
 * @param {Buffer[]} frames
 * @returns {Message}
 */
function parse(info, frames) {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new Error("wire: message has no <IDS|MSG> delimiter");
  if (frames.length < at + 6) throw new Error("wire: message has fewer than 4 JSON frames");
  const signature = frames[at + 1].toString();
  const parts = frames.slice(at + 2, at + 6);
  const expected = sign(info, parts);
  if (
    expected !== "" &&
    (signature.length !== expected.length ||
      !timingSafeEqual(Buffer.from(signature), Buffer.from(expected)))
  ) {
    throw new Error("wire: invalid message signature");
  }
  const [header, parent, metadata, content] = parts.map((p) => JSON.parse(p.toString("utf8")));
  return {
    identities: frames.slice(0, at),
    header,
    parent,
    metadata,
    content,
    buffers: frames.slice(at + 6),
  };
}

/**
 * A new header for a message the kernel sends.
 * @param {string} session the kernel's session id
 * @param {string} msgType
 * @returns {Header}
 */
function newHeader(session, msgType) {
  return {
    msg_id: randomUUID(),
    session,
    username: "kernel",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/**
 * Serialises and signs a message into frames ready for `socket.send`.
 * @param {SigningInfo} info
 * @param {Buffer[]} identities routing identities (replies) or the topic (iopub)
 * @param {Header} header
 * @param {Partial<Header> | {}} parent
 * @param {unknown} content
 * @param {Record<string, unknown>} [metadata]
 */
function serialize(info, identities, header, parent, content, metadata = {}) {
  const parts = [header, parent, metadata, content].map((p) => JSON.stringify(p));
  return [...identities, DELIMITER, Buffer.from(sign(info, parts)), ...parts];
}

module.exports = { DELIMITER, PROTOCOL_VERSION, parse, serialize, newHeader, sign };
