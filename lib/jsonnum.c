/* jsonnum: exact doubles in JSON. */
#include "jsonnum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

cJSON *kw_json_number(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    char text[32];
    snprintf(text, sizeof text, "%.17g", v);
    return cJSON_CreateRaw(text);
}

int kw_json_get_double(const cJSON *item, double *out)
{
    double v;
    if (cJSON_IsNumber(item))
        v = item->valuedouble;
    else if (cJSON_IsRaw(item))
        v = strtod(item->valuestring, NULL);
    else
        return -1;
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

cJSON *kw_json_doubles(const double *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, kw_json_number(v[i]));
    return arr;
}

int kw_json_read_doubles(const cJSON *json, double *v, size_t n)
{
    if (!cJSON_IsArray(json) || (size_t)cJSON_GetArraySize(json) != n)
        return -1;
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, json) {
        if (cJSON_IsNumber(item))
            v[i++] = item->valuedouble;
        else if (cJSON_IsRaw(item) && kw_json_get_double(item, &v[i]) == 0) /* saved, not yet printed */
            i++;
        else if (cJSON_IsNull(item))
            v[i++] = NAN;
        else
            return -1;
    }
    return 0;
}
