using BpfSteer;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>Data path facts from the kernel feature probe alone (no sockmap program loaded by the integration itself).</summary>
internal sealed class KernelFeaturesDataPathInfo : IDataPathInfo
{
    public SockmapAvailability SockmapAvailability
    {
        get
        {
            var sockmap = KernelFeatures.Current.Sockmap;
            return new SockmapAvailability(sockmap.Available, sockmap.Detail);
        }
    }

    public IReadOnlyList<long> VerdictRunsPerCpu(int routeIndex) => [];
}
