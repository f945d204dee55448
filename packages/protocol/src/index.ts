export { ErrorCode, httpStatusOf } from './error-code.js'
export { SeqlineError } from './seqline-error.js'
export { STREAM_NAME_PATTERN, isValidStreamName } from './stream-name.js'
export { ResetReason } from './message.js'
export type { Message, Position, PresenceEntry, StartFrom } from './message.js'
export { clientFrameSchemas } from './client-frame.js'
export type {
  AckFrame,
  ClientFrame,
  ClientFrameType,
  ClientSignalFrame,
  HelloFrame,
  PingFrame,
  PubFrame,
  SubFrame,
  UnsubFrame,
} from './client-frame.js'
export { CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_REPLACED } from './server-frame.js'
export type {
  CaughtUpFrame,
  ErrorFrame,
  GoawayFrame,
  MsgFrame,
  NackFrame,
  PongFrame,
  PresenceDeltaFrame,
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
