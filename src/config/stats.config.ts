import { registerAs } from '@nestjs/config';
import type { StatsOptions } from '../stats/stats-options.js';
import { environment } from './environment.js';

export const statsConfig = registerAs('stats', (): StatsOptions => ({
  maxTasks: environment().STATS_MAX_TASKS,
}));
