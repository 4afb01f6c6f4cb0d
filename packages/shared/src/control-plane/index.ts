export * from './control-plane.ts';
export * from './open-control-plane.ts';
