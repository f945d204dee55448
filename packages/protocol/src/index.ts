export { ErrorCode, httpStatusOf } from './error-code.js'
export { SeqlineError } from './seqline-error.js'
export { STREAM_NAME_PATTERN, isValidStreamName } from './stream-name.js'
export { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth.js'
export { ResetReason } from './message.js'
export type { Message, Position, PresenceCount, PresenceEntry, StartFrom } from './message.js'
export { clientFrameSchemas } from './client-frame.js'
export type {
  AckFrame,
  ClientFrame,
  ClientFrameType,
  AuthFrame,
  ClientSignalFrame,
  HelloFrame,
  PingFrame,
  PubFrame,
  SubFrame,
  UnsubFrame,
} from './client-frame.js'
export { CloseCode } from './server-frame.js'
export type {
  AuthOkFrame,
  CaughtUpFrame,
  ErrorFrame,
  GoawayFrame,
  MsgFrame,
  NackFrame,
  PongFrame,
  PresenceDiffFrame,
  PresenceFrame,
  PubackFrame,
  ResetFrame,
  ServerFrame,
  ServerFrameType,
  ServerSignalFrame,
  WelcomeFrame,
} from './server-frame.js'
export { parseClientFrame } from './parse-client-frame.js'
export { parseServerFrame } from './parse-server-frame.js'
