namespace ProxyHost.Admin;

/// <summary>Endpoint metadata: the endpoint is served on the admin listener only (see <see cref="AdminListenerMatcherPolicy"/>).</summary>
internal sealed class AdminListenerMetadata
{
    public static readonly AdminListenerMetadata Instance = new();
}
