// Benchmark driver: filled in by issue 6.
return 0;
