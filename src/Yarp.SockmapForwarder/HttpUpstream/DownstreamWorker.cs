using BpfSteer;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// The worker serving the downstream connection of the request that is running, set per request by
/// <see cref="DownstreamWorkerStartupFilter"/> from <see cref="IWorkerLoopFeature"/>. It flows with the request's
/// execution context into YARP's <c>HttpMessageInvoker.SendAsync</c>, so the per-worker client can pick that worker's
/// pool whichever thread runs the request (ApplicationScheduling.ThreadPool) and the upstream socket calls can be
/// counted against that worker's CPU.
/// </summary>
internal static class DownstreamWorker
{
    private static readonly AsyncLocal<IWorkerLoop?> s_current = new();

    public static IWorkerLoop? Current
    {
        get => s_current.Value;
        set
        {
            // Usually unchanged (the same connection's previous request): skip the execution-context copy.
            if (!ReferenceEquals(s_current.Value, value))
            {
                s_current.Value = value;
            }
        }
    }
}
