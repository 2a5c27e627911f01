namespace ProxyHost.Admin;

/// <summary>
/// Present on every connection accepted by the admin listener (set by its connection middleware, so it is there
/// whatever port the listener got): requests see it through <c>HttpContext.Features</c>, which fall back to the
/// connection's features. Keyed on the connection, unlike <c>RequireHost</c>, so a client cannot reach the admin
/// endpoints by writing the admin port into its Host header.
/// </summary>
internal interface IAdminListenerFeature
{
}
