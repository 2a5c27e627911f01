using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using Yarp.SockmapForwarder.DataPath;

namespace Yarp.SockmapForwarder.Internal;

/// <summary>
/// The TCP routes: loaded and validated once when Kestrel is configured (invalid configuration stops the start with every
/// problem listed), then kept current by configuration reloads and YARP's config-applied notifications. Settings of bound
/// routes change live; adding a route or moving its endpoint needs a restart (Kestrel binds code-defined endpoints once).
/// </summary>
internal sealed class TcpRouteTable : IDisposable
{
    private static readonly TimeSpan s_recheckDelay = TimeSpan.FromMilliseconds(250);

    private readonly object _sync = new();
    private readonly IConfiguration _section;
    private readonly IProxyConfigProvider[] _providers;
    private readonly IDataPathInfo _dataPath;
    private readonly ILogger _logger;
    private readonly HashSet<string> _pendingRestart = new(StringComparer.OrdinalIgnoreCase);
    private IReadOnlyDictionary<string, TcpRouteState> _routes = new Dictionary<string, TcpRouteState>();
    private IDisposable? _reloadRegistration;
    private string? _lastReloadErrors;
    private bool _loaded;

    public TcpRouteTable(TcpRouteConfigSource source, IEnumerable<IProxyConfigProvider> providers, IDataPathInfo dataPath, ILogger<TcpRouteTable> logger)
    {
        _section = source.Section;
        _providers = providers.ToArray();
        _dataPath = dataPath;
        _logger = logger;
    }

    /// <summary>The routes bound at start, in index order.</summary>
    public IReadOnlyList<TcpRouteState> Routes => _routes.Values.OrderBy(r => r.Index).ToArray();

    /// <summary>Reads and validates the routes the first time; throws with every problem when the configuration is invalid.</summary>
    public IReadOnlyList<TcpRouteState> EnsureLoaded()
    {
        lock (_sync)
        {
            if (!_loaded)
            {
                var errors = new List<string>();
                var configs = ReadAndValidate(errors);
                if (errors.Count > 0)
                {
                    throw new InvalidOperationException(FormatErrors("The TCP route configuration is invalid.", errors),
                        new AggregateException(errors.Select(e => new ArgumentException(e))));
                }
                var routes = new Dictionary<string, TcpRouteState>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < configs.Count; i++)
                {
                    ListenAddress.TryParse(configs[i].Listen, out var listen);
                    routes[configs[i].RouteId] = new TcpRouteState(configs[i], i, listen!);
                }
                _routes = routes;
                _loaded = true;
                _reloadRegistration = ChangeToken.OnChange(_section.GetReloadToken, () => Reload(deferErrors: true));
            }
            return Routes;
        }
    }

    /// <summary>Re-reads the routes; an invalid result is logged (every problem) and the previous settings stay.</summary>
    public void Reload() => Reload(deferErrors: false);

    /// <param name="deferErrors">
    /// True when the configuration token fired: YARP's provider may not have taken the same change yet (token callbacks
    /// run in no promised order), so a route pointing at a cluster added by this very change would look invalid. Such a
    /// result is re-checked shortly (and again when YARP reports the change applied) before it is reported.
    /// </param>
    private void Reload(bool deferErrors)
    {
        lock (_sync)
        {
            if (!_loaded)
            {
                return;
            }
            var errors = new List<string>();
            var configs = ReadAndValidate(errors);
            if (errors.Count > 0 && deferErrors)
            {
                _ = RecheckAsync();
                return;
            }
            if (errors.Count > 0)
            {
                var text = FormatErrors("", errors);
                if (text != _lastReloadErrors)
                {
                    SockmapForwarderLog.ReloadRejected(_logger, text);
                    _lastReloadErrors = text;
                }
                return;
            }
            _lastReloadErrors = null;
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var config in configs)
            {
                seen.Add(config.RouteId);
                if (!_routes.TryGetValue(config.RouteId, out var route))
                {
                    if (_pendingRestart.Add(config.RouteId))
                    {
                        SockmapForwarderLog.RouteAddedNeedsRestart(_logger, config.RouteId, config.Listen);
                    }
                    continue;
                }
                var old = route.Config;
                var wasRemoved = route.Removed;
                route.Removed = false;
                if (old.Equals(config) && !wasRemoved)
                {
                    continue;
                }
                if (!string.Equals(old.Listen, config.Listen, StringComparison.OrdinalIgnoreCase))
                {
                    SockmapForwarderLog.ListenChangeNeedsRestart(_logger, config.RouteId, route.Listen.ToString(), config.Listen);
                }
                route.Config = config;
                SockmapForwarderLog.RouteUpdated(_logger, config.RouteId);
            }
            _pendingRestart.IntersectWith(seen);
            foreach (var route in _routes.Values)
            {
                if (!seen.Contains(route.RouteId) && !route.Removed)
                {
                    route.Removed = true;
                    SockmapForwarderLog.RouteRemoved(_logger, route.RouteId, route.BoundEndPoint);
                }
            }
        }
    }

    public void Dispose() => _reloadRegistration?.Dispose();

    private async Task RecheckAsync()
    {
        await Task.Delay(s_recheckDelay).ConfigureAwait(false);
        Reload(deferErrors: false);
    }

    private List<TcpRouteConfig> ReadAndValidate(List<string> errors)
    {
        var configs = TcpRouteConfigReader.Read(_section, errors);
        TcpRouteValidator.Validate(configs, CurrentClusters(), () => _dataPath.SockmapAvailability, errors);
        return configs;
    }

    /// <summary>The clusters as the config providers state them now (YARP's own validation covers their YARP settings).</summary>
    private Dictionary<string, ClusterConfig> CurrentClusters()
    {
        var clusters = new Dictionary<string, ClusterConfig>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in _providers)
        {
            foreach (var cluster in provider.GetConfig().Clusters ?? [])
            {
                clusters.TryAdd(cluster.ClusterId, cluster);
            }
        }
        return clusters;
    }

    private static string FormatErrors(string title, List<string> errors) =>
        (title.Length > 0 ? title + Environment.NewLine : "") + string.Join(Environment.NewLine, errors.Select(e => " - " + e));
}
