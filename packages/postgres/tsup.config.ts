import { defineConfig } from 'tsup';
import { tsupConfig } from '../../tsup.base.js';

export default defineConfig(tsupConfig());
