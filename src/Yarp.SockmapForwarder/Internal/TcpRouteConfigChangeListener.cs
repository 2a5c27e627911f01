using Yarp.ReverseProxy.Configuration;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// Re-checks the TCP routes after YARP applied a new configuration (its change tokens fired): a route's cluster may have
/// appeared, gone, or changed its destinations. Destinations themselves are read live from YARP's state on every connection.
/// </summary>
internal sealed class TcpRouteConfigChangeListener(TcpRouteTable table) : IConfigChangeListener
{
    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs) => table.Reload();

    public void ConfigurationApplyingFailed(IReadOnlyList<IProxyConfig> proxyConfigs, Exception exception)
    {
    }

    public void ConfigurationLoaded(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
    }

    public void ConfigurationLoadingFailed(IProxyConfigProvider configProvider, Exception exception)
    {
    }
}
