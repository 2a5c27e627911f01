using Microsoft.Extensions.Logging.Abstractions;
using Yarp.SockmapForwarder.DataPath;

namespace ProxyHost.Doctor;

/// <summary>
/// Loads the forwarder's real sockmap data path (its BPF object and start-up self-test) in the doctor process. The
/// kernel probe alone can pass where the data path cannot (e.g. libbpf needing a capability to resolve the kfunc
/// extern), and that difference is exactly what an operator needs to see before deploying. Uses the forwarder's
/// internal DataPathForwarder (ProxyHost is a friend assembly) because no public API loads the data path on its own.
/// </summary>
internal static class DataPathCheck
{
    public static DoctorCheck Run(IReadOnlyList<string> forcedSockmapRoutes)
    {
        bool usable;
        string detail;
        try
        {
            using var forwarder = new DataPathForwarder(NullLoggerFactory.Instance);
            usable = forwarder.SockmapUsable;
            detail = forwarder.SockmapDetail;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            usable = false;
            detail = $"{ex.GetType().Name}: {ex.Message}";
        }

        if (usable)
        {
            return DoctorCheck.Ok("datapath", $"The forwarder's sockmap data path loads and passes its self-test: {detail}");
        }
        const string fix = "Run as root, or add the capabilities the detail names (libbpf resolving kernel BTF externs may need CAP_SYS_ADMIN); "
            + "routes in Auto or UserSpace mode keep working in user space meanwhile.";
        return forcedSockmapRoutes.Count > 0
            ? DoctorCheck.Fail("datapath", $"The sockmap data path does not load here, so the Mode=Sockmap routes {string.Join(", ", forcedSockmapRoutes)} cannot start: {detail}", fix)
            : DoctorCheck.Warn("datapath", $"The sockmap data path does not load here; TCP routes use the user-space path: {detail}", fix);
    }
}
