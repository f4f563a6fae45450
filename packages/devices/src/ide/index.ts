export { IdeController, type IdeControllerOptions, type IdeDrives } from './device.js';
export { IdeChannel, type IdeChannelState } from './channel.js';
export { IdeDrive, type IdeDriveOptions, type DriveKind, type AtapiResult, type AtapiData } from './drive.js';
export { type BlockBackend, MemoryBlockBackend } from './backend.js';
export type { IdeControllerState } from './state.js';
export * as IdeRegs from './registers.js';
