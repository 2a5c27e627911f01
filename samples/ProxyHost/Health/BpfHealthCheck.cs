using BpfSteer;
using BpfSteer.Transport;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProxyHost.Hosting;
using Yarp.SockmapForwarder;

namespace ProxyHost.Health;

/// <summary>
/// "bpf": is the BPF side doing what it was set up to do? Degraded, not Unhealthy, when something fell back: the host
/// still serves every route, only slower or without locality, and a balancer should not take it out for that.
/// </summary>
internal sealed class BpfHealthCheck(IServiceProvider services, IConfiguration configuration) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var transport = services.GetService<IBpfSteerTransportStatus>();
        var forwarder = services.GetService<ISockmapForwarderStatus>();
        var kernel = KernelFeatures.Current;
        var problems = new List<string>();
        var data = new Dictionary<string, object>
        {
            ["sockmap"] = kernel.Sockmap.Available,
            ["redirectCpuKfunc"] = kernel.RedirectCpuKfunc.Available,
        };

        if (transport is null)
        {
            problems.Add("Kestrel is not running on the BpfSteer transport.");
        }
        else
        {
            data["selector"] = transport.Selector.ToString();
            data["workers"] = transport.Workers.Count;
            if (transport.Selector == ReuseportSelector.None)
            {
                problems.Add($"No CPU selector is attached: {transport.SelectorDetail}");
            }
        }

        if (TcpRouteSettings.Read(configuration).Count > 0)
        {
            if (forwarder is null)
            {
                problems.Add("TCP routes are configured but AddSockmapForwarder() was not called.");
            }
            else
            {
                data["sockmapUsable"] = forwarder.SockmapUsable;
                if (!forwarder.SockmapUsable)
                {
                    problems.Add($"Sockmap is not usable, TCP routes run in user space: {forwarder.SockmapDetail}");
                }
            }
        }

        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy("The BPF selector and the sockmap data path are in use.", data)
            : HealthCheckResult.Degraded(string.Join(" ", problems), data: data));
    }
}
