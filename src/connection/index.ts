export {
  type BackoffOptions,
  type BackoffShape,
  DEFAULT_BACKOFF,
  ExponentialBackoff,
  fullJitterDelay,
} from './backoff';
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
  DEFAULT_CIRCUIT,
} from './circuit-breaker';
export {
  HEARTBEAT_TIMEOUT_INTERVALS,
  HeartbeatWatchdog,
  type HeartbeatWatchdogOptions,
} from './heartbeat-watchdog';
export {
  DEFAULT_REFRESH_SKEW_MS,
  type GetToken,
  TokenProvider,
  type TokenProviderOptions,
  type TokenResult,
} from './token-provider';
