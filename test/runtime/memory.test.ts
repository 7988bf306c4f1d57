import { randomUUID } from 'node:crypto';
import { runtimeContract } from '../contract/runtime-contract.js';

runtimeContract({ name: 'memory', url: () => Promise.resolve(`memory:runtime-${randomUUID()}`) });
