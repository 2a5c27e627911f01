using Microsoft.AspNetCore.Routing.Matching;

namespace ProxyHost.Admin;

/// <summary>
/// Splits the endpoints between the two kinds of listener, like <c>RequireHost</c> but keyed on the connection: on the
/// admin listener only endpoints marked <see cref="AdminListenerMetadata"/> match (anything else is a 404), on every
/// other endpoint only the unmarked ones (YARP's routes), so <c>/healthz</c> or <c>/bpfsteer</c> on the proxy's port
/// reach the proxied application.
/// </summary>
internal sealed class AdminListenerMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
    // After routing's own policies (host, method): this only removes candidates, it never adds one.
    public override int Order => 1000;

    // Every endpoint: unmarked ones must be removed on the admin listener.
    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => true;

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var onAdminListener = httpContext.Features.Get<IAdminListenerFeature>() is not null;
        for (var i = 0; i < candidates.Count; i++)
        {
            var adminEndpoint = candidates[i].Endpoint.Metadata.GetMetadata<AdminListenerMetadata>() is not null;
            if (adminEndpoint != onAdminListener)
            {
                candidates.SetValidity(i, false);
            }
        }
        return Task.CompletedTask;
    }
}
