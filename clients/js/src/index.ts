// eddy-js: a client for eddy-server (Apache Iggy's 0.8 binary protocol) over the browser's
// WebSocket. No runtime dependencies.
export { Client, sleep } from './client.js';
export type { ClientOptions, PartitionInfo, PollOptions, ShardStats, Stats, StreamInfo, TopicInfo, WaitOptions } from './client.js';
export { Subscription } from './subscription.js';
export type { SubscribeOptions } from './subscription.js';
export { ConnectionClosed, EddyError, IggyError, ProtocolError } from './errors.js';
export { Command, Status, statusName } from './codes.js';
export { HeaderKind, headerText } from './messages.js';
export type { HeaderInput, HeaderValue, Message, Partitioning, Polled, SendMessage, Strategy } from './messages.js';
export type { Id } from './bytes.js';
export type { WebSocketClass } from './connection.js';
