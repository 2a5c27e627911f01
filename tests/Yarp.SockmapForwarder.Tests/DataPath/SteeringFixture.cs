using Microsoft.Extensions.Logging.Abstractions;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.DataPath.Steering;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>
/// A forwarder with RFS steering on, allowed to configure RFS on lo (tests run as root). Disposing it restores
/// rps_sock_flow_entries and lo's rps_flow_cnt; the fixture checks that they are back.
/// </summary>
public sealed class SteeringFixture : IDisposable
{
    private readonly string _entriesBefore = File.ReadAllText(RfsConfiguration.SockFlowEntriesPath).Trim();
    private readonly string _flowCntBefore = File.ReadAllText(FlowCntPath).Trim();

    public SteeringFixture()
    {
        Assert.True(Environment.ProcessorCount >= 2, "steering tests need 2 CPUs");
        Forwarder = new DataPathForwarder(NullLoggerFactory.Instance, new SockmapForwarderOptions
        {
            RunSelfTest = false, // the shared fixture's forwarder ran it on this kernel
            Steering = new SockmapSteeringOptions { Enabled = true, ConfigureRfs = true },
        });
        Assert.True(Forwarder.SockmapUsable, Forwarder.SockmapDetail);
    }

    private const string FlowCntPath = "/sys/class/net/lo/queues/rx-0/rps_flow_cnt";

    internal DataPathForwarder Forwarder { get; }

    public void Dispose()
    {
        Forwarder.Dispose();
        Assert.Equal(_entriesBefore, File.ReadAllText(RfsConfiguration.SockFlowEntriesPath).Trim());
        Assert.Equal(_flowCntBefore, File.ReadAllText(FlowCntPath).Trim());
    }
}
