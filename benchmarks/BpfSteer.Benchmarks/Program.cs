// Benchmark driver: filled in by issue 6. "forwarder ..." runs the data-path tools of benchmarks/forwarder/run.sh.
if (args.Length > 0 && args[0] == "forwarder")
{
    return await BpfSteer.Benchmarks.ForwarderApp.RunAsync(args[1..]);
}
if (args.Length > 0 && args[0] == "park-stress")
{
    return BpfSteer.Benchmarks.ParkStress.Run(BpfSteer.Benchmarks.ForwarderApp.Parse(args[1..]));
}
if (args.Length > 0 && args[0] == "interop-calls")
{
    return BpfSteer.Benchmarks.InteropCalls.Run(args[1..]);
}
return 0;
