// Part (b) alone: leader election, the tab channel and the coordinator that uses them (src/tabs).
import { TabCoordinator } from '../../src/tabs/tab-coordinator';

console.log(TabCoordinator);
